import { assert, assertEquals } from "../../assert.ts";
import { Progress } from "../../../src/node/observe/progress.ts";

function clock(): { now: () => number; tick: (ms: number) => void } {
  let t = 0;
  return { now: () => t, tick: (ms) => t += ms };
}

Deno.test("plain progress: a line every interval with rates, share and ETA, then a last line", () => {
  const c = clock();
  const lines: string[] = [];
  const p = new Progress({
    label: "replay",
    totalBytes: 1000,
    terminal: false,
    write: (l) => lines.push(l),
    intervalMs: 5000,
    now: c.now,
  });
  for (let i = 0; i < 4; i++) {
    c.tick(1000);
    p.advance({ blocks: 10, txs: 100, bytes: 100 });
  }
  assertEquals(lines, [], "nothing before the first interval");
  c.tick(1000);
  p.advance({ blocks: 10, txs: 100, bytes: 100 });
  assertEquals(lines, [
    "replay: 50 blocks, 10 blocks/s, 100 tx/s, 50%, ETA 5 s",
  ]);
  c.tick(1000);
  p.advance({ blocks: 10, txs: 100, bytes: 100 });
  assertEquals(lines.length, 1, "not again before the next interval");
  p.done();
  assertEquals(
    lines[1],
    "replay: 60 blocks, 10 blocks/s, 100 tx/s, 60%, ETA 4 s, done",
  );
});

Deno.test("plain progress of quick work prints nothing", () => {
  const c = clock();
  const lines: string[] = [];
  const p = new Progress({
    label: "sync from 127.0.0.1:1",
    terminal: false,
    write: (l) => lines.push(l),
    now: c.now,
  });
  c.tick(100);
  p.advance({ blocks: 3, txs: 3 });
  p.done();
  assertEquals(lines, []);
});

Deno.test("terminal progress redraws one line and ends it with a newline", () => {
  const c = clock();
  const out: string[] = [];
  const p = new Progress({
    label: "sync from 127.0.0.1:1",
    terminal: true,
    write: (t) => out.push(t),
    now: c.now,
  });
  for (let i = 0; i < 8; i++) {
    c.tick(250);
    p.advance({ blocks: 5, txs: 50 });
  }
  assert(out.length >= 4, `${out.length} redraws`);
  for (const t of out) {
    assert(t.startsWith("\r") && !t.includes("\n"), JSON.stringify(t));
  }
  // No ETA: the end of a sync is not known.
  assert(!out.at(-1)!.includes("ETA"));
  p.done();
  assert(out.at(-1)!.endsWith("\x1b[K\n"));
  assert(out.at(-1)!.includes("40 blocks, 20 blocks/s, 200 tx/s"));
});
