/**
 * Walks through the README's walkthrough as written, so it cannot drift from
 * the code: its two `node start` commands run as real nodes (on free ports),
 * every client command runs in bash, and each output line shown under a
 * command (`# ...`) must match what the command prints. Hashes, addresses
 * and times differ from run to run: a hex string in the README stands for
 * whatever value appeared in its place the first time, and is replaced by
 * that value in later commands.
 */
import { assert, assertEquals } from "../assert.ts";
import {
  BCN_PERMISSIONS,
  type BcnProcess,
  CONFIG_PATH,
  DENO,
  freePort,
  MAIN_PATH,
  startBcn,
  withTempDir,
} from "./helpers.ts";

const README = new URL("../../README.md", import.meta.url);
const HEX = /\b[0-9a-f]{7,64}\b/g;
const RETRY_MS = 30_000;

interface Fence {
  lang: string;
  lines: string[];
}

function walkthrough(markdown: string): Fence[] {
  const start = markdown.indexOf("\n## Walkthrough");
  const end = markdown.indexOf("\n## ", start + 1);
  assert(start >= 0, "README has a Walkthrough section");
  const fences: Fence[] = [];
  const re = /^```(\w*)\n([\s\S]*?)^```$/gm;
  for (const m of markdown.slice(start, end).matchAll(re)) {
    fences.push({ lang: m[1], lines: m[2].replace(/\n$/, "").split("\n") });
  }
  return fences;
}

/** README tokens mapped to what this run printed in their place. */
class Bindings {
  readonly #map = new Map<string, string>();

  constructor(ports: Map<string, string>) {
    this.ports = ports;
  }
  readonly ports: Map<string, string>;

  /** Replaces ports and bound hex tokens (or prefixes of them) in `text`. */
  apply(text: string): string {
    for (const [from, to] of this.ports) text = text.replaceAll(from, to);
    return text.replace(HEX, (token) => {
      const exact = this.#map.get(token);
      if (exact) return exact;
      for (const [k, v] of this.#map) {
        if (k.length > token.length && k.startsWith(token)) {
          return v.slice(0, token.length);
        }
      }
      return token;
    });
  }

  /**
   * Whether `actual` matches README line `expected`; on a match, binds its
   * hex tokens to the values printed in their place.
   */
  match(expected: string, actual: string, looseNumbers = false): boolean {
    const known = this.apply(expected);
    const tokens: string[] = [];
    let pattern = "";
    // "abc..." elides the rest of a value; times and hex vary.
    const parts = known.split(
      /([A-Za-z0-9+/]*\.\.\.|\d{4}-\d\d-\d\dT[\d:.]+Z|\b[0-9a-f]{7,64}\b|\d+)/,
    );
    parts.forEach((part, i) => {
      if (i % 2 === 0) {
        pattern += part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      } else if (part.endsWith("...")) {
        pattern += ".*?";
      } else if (/^\d{4}-\d\d-\d\dT/.test(part)) {
        pattern += "[0-9T:.Z-]+";
      } else if (/^[0-9a-f]{7,64}$/.test(part)) {
        tokens.push(part);
        pattern += `([0-9a-f]{${part.length}})`;
      } else {
        pattern += looseNumbers ? "\\d+" : part;
      }
    });
    const m = new RegExp(`^${pattern}$`).exec(actual);
    if (!m) return false;
    tokens.forEach((t, i) => {
      if (t !== m[i + 1]) this.#map.set(t, m[i + 1]);
    });
    return true;
  }
}

const bcnCommand = [
  DENO,
  "run",
  "-q",
  "--config",
  CONFIG_PATH,
  ...BCN_PERMISSIONS,
  MAIN_PATH,
].join(" ");

async function bash(
  script: string,
  cwd: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command("bash", {
    args: ["-c", script],
    cwd,
    stdout: "piped",
    stderr: "piped",
    env: { BCN_AUTHPASS: "", BCN_OWNERPASS: "" },
    signal: AbortSignal.timeout(60_000),
  }).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

const READ_ONLY =
  /bcn (account balance|tx search|tx prove|tx verify|block search)|^echo /;

/** Runs the client commands of one README block, checking each output. */
async function runClientBlock(
  lines: string[],
  vars: Map<string, string>,
  b: Bindings,
  cwd: string,
): Promise<void> {
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith("#") || line.trim() === "") continue;
    const expected: string[] = [];
    while (lines[i + 1]?.startsWith("# ")) expected.push(lines[++i].slice(2));
    const cmd = b.apply(line).replace(/deno task (-q )?bcn/g, bcnCommand);
    const assign = /^(\w+)=/.exec(line)?.[1];
    const exports = [...vars].map(([k, v]) =>
      `${k}='${v.replaceAll("'", "'\\''")}'`
    );
    const script = [
      "set -euo pipefail",
      ...exports,
      assign ? `${cmd}; printf '%s' "$${assign}"` : cmd,
    ].join("\n");
    const deadline = Date.now() + (READ_ONLY.test(line) ? RETRY_MS : 0);
    for (let attempt = 1;; attempt++) {
      const res = await bash(script, cwd);
      const out = res.stdout.replace(/\n$/, "").split("\n");
      const ok = res.code === 0 &&
        (expected.length === 0 ||
          (out.length === expected.length &&
            expected.every((e, k) => b.match(e, out[k]))));
      if (ok) {
        if (assign) vars.set(assign, res.stdout);
        break;
      }
      if (Date.now() >= deadline || attempt > 100) {
        throw new Error(
          `README command failed: ${line}\nexpected:\n${
            expected.join("\n")
          }\n` +
            `got (exit ${res.code}):\n${res.stdout}${res.stderr}`,
        );
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

Deno.test("the README walkthrough works as written", async () => {
  const fences = walkthrough(await Deno.readTextFile(README));
  const ports = new Map([
    ["1122", String(freePort())],
    ["1123", String(freePort())],
  ]);
  const b = new Bindings(ports);
  const vars = new Map<string, string>();
  const nodes: BcnProcess[] = [];
  await withTempDir(async (cwd) => {
    try {
      let started = 0;
      let subscribed = 0;
      for (let f = 0; f < fences.length; f++) {
        const { lang, lines } = fences[f];
        if (lang !== "sh") continue;
        const text = lines.join("\n");
        if (text.includes("node start")) {
          const args = b.apply(text).replace(/^.*deno task bcn /, "").split(
            /\s+/,
          );
          const node = await startBcn(args, { cwd });
          nodes.push(node);
          const stdout = await node.waitFor("<=> gRPC", 60_000);
          const expected = fences[f + 1].lines;
          const actual = stdout.replace(/\n$/, "").split("\n");
          assertEquals(actual.length, expected.length, stdout);
          expected.forEach((e, k) =>
            assert(
              b.match(e, actual[k]),
              `expected ${e}\ngot      ${actual[k]}`,
            )
          );
          started++;
        } else if (text.includes("node subscribe")) {
          await checkSubscribe(lines, vars, b, cwd);
          subscribed++;
        } else {
          await runClientBlock(lines, vars, b, cwd);
        }
      }
      assertEquals(started, 2, "two nodes started");
      assertEquals(subscribed, 1, "one subscription");
    } finally {
      for (const node of nodes.reverse()) {
        const res = await node.stop("SIGINT");
        assertEquals(res.code, 0, node.output().stderr);
      }
    }
  });
});

// The README shows a subscriber receiving a block with two transfers of 5
// and 6 sent "from another shell": send them, and check the events. The
// block may hold one or both, so its numbers are not compared.
async function checkSubscribe(
  lines: string[],
  vars: Map<string, string>,
  b: Bindings,
  cwd: string,
): Promise<void> {
  const cmd = lines.find((l) => l.includes("node subscribe"))!;
  const args = b.apply(cmd).replace(/^.*deno task -q bcn /, "").split(/\s+/);
  const sub = await startBcn(args, { cwd });
  try {
    await new Promise((r) => setTimeout(r, 1000));
    const send = (value: number) =>
      runClientBlock(
        [
          `deno task -q bcn tx send --node 127.0.0.1:1122 --sigtx "$(deno task -q bcn tx sign --node 127.0.0.1:1122 --from $owner --to $bob --value ${value} --ownerpass password)"`,
        ],
        vars,
        b,
        cwd,
      );
    await send(5);
    await send(6);
    const expected = lines.filter((l) => l.startsWith("# ")).map((l) =>
      l.slice(2)
    );
    const txLines = expected.filter((l) => l.startsWith("tx "));
    // Both transfers are confirmed once the second one's event arrives.
    for (let i = 0; i < 120; i++) {
      if (/^tx validated .* 6$/m.test(sub.output().stdout)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const out = sub.output().stdout.trim().split("\n");
    const gotTx = out.filter((l) => l.startsWith("tx "));
    assertEquals(gotTx.length, txLines.length, out.join("\n"));
    txLines.forEach((e, k) =>
      assert(b.match(e, gotTx[k]), `${e}\n${gotTx[k]}`)
    );
    const blk = expected.find((l) => l.startsWith("blk "))!;
    assert(
      out.filter((l) => l.startsWith("blk ")).every((l) =>
        b.match(blk, l, true)
      ),
      out.join("\n"),
    );
  } finally {
    const res = await sub.stop("SIGINT");
    assertEquals(res.code, 0, sub.output().stderr);
  }
}
