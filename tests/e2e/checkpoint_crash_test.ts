/**
 * End-to-end: a node that joined from a checkpoint and crashes during its
 * backfill (killed, or stopped at any of the states a crash leaves)
 * resumes at its next start and ends with the bootstrap's block.store.
 */
import { join } from "node:path";
import { assert, assertEquals } from "../assert.ts";
import { makeChain } from "../fixtures.ts";
import { BACKFILL_FILE, HEAD_DIR } from "../../src/node/backfill.ts";
import { CHECKPOINTS_FILE } from "../../src/store/checkpoint_store.ts";
import {
  blockStoreLines,
  freePort,
  nodeStartArgs,
  poll,
  startBcn,
  withServingBcn,
  withTempDir,
  writeChainDir,
} from "./helpers.ts";

const PASS = "password";
const chain = makeChain(10, 2);
const lines = blockStoreLines(chain);

function args(port: number, dir: string, seed?: number): string[] {
  return [
    ...nodeStartArgs(port, dir, seed, PASS),
    ...(seed === undefined ? ["--checkpoint-interval", "4"] : []),
    "--period",
    "200ms",
  ];
}

async function withBootstrap(
  fn: (tmp: string, bootPort: number) => Promise<void>,
): Promise<void> {
  await withTempDir(async (tmp) => {
    const boot = join(tmp, "boot");
    await writeChainDir(boot, chain, PASS);
    const bootPort = freePort();
    await withServingBcn(
      args(bootPort, boot),
      bootPort,
      () => fn(tmp, bootPort),
    );
  });
}

// Starts the regular node in `dir` until its block.store is the chain's;
// returns its stderr.
async function completes(dir: string, bootPort: number): Promise<string> {
  const port = freePort();
  const node = await startBcn(args(port, dir, bootPort));
  try {
    await node.waitFor(`<=> gRPC 127.0.0.1:${port}\n`);
    await poll(
      "block.store is complete",
      async () =>
        !await Deno.stat(join(dir, "blockstore", BACKFILL_FILE)).then(
          () => true,
          () => false,
        ) &&
        await Deno.readTextFile(join(dir, "blockstore", "block.store"))
            .catch(() => "") === lines.join(""),
      { describe: () => node.output().stderr },
    );
  } finally {
    const res = await node.stop();
    assertEquals(res.code, 0, res.stderr);
  }
  return node.output().stderr;
}

// Leaves `bs` as a node stopped mid-backfill to `checkpoint` would: the
// marker, `stored` in block.store, no snapshot, `head` in the head store.
async function leaveBackfill(
  bs: string,
  checkpoint: string,
  stored: string,
  head: string,
): Promise<void> {
  await Deno.writeTextFile(join(bs, BACKFILL_FILE), checkpoint + "\n");
  await Deno.writeTextFile(join(bs, "block.store"), stored);
  await Deno.remove(join(bs, "snapshot.json")).catch(() => {});
  await Deno.mkdir(join(bs, HEAD_DIR), { recursive: true });
  await Deno.writeTextFile(join(bs, HEAD_DIR, "block.store"), head);
}

Deno.test("a node killed right after it joined from a checkpoint completes at its next start", async () => {
  await withBootstrap(async (tmp, bootPort) => {
    const dir = join(tmp, "reg");
    const port = freePort();
    const first = await startBcn(args(port, dir, bootPort));
    try {
      await first.waitFor(`<=> gRPC 127.0.0.1:${port}\n`);
    } finally {
      await first.stop("SIGKILL");
    }
    assert(first.output().stderr.includes("joined from checkpoint 8"));
    const stderr = await completes(dir, bootPort);
    assert(!stderr.includes("error"), stderr);
  });
});

Deno.test("every state a crash during the backfill leaves resumes cleanly", async () => {
  await withBootstrap(async (tmp, bootPort) => {
    const dir = join(tmp, "reg");
    await completes(dir, bootPort);
    const bs = join(dir, "blockstore");
    const checkpoint = (await Deno.readTextFile(join(bs, CHECKPOINTS_FILE)))
      .split("\n").find((l) => l.includes('"number":8,'));
    assert(checkpoint);
    const states: [string, string][] = [
      // Three blocks backfilled, a fourth torn mid-append.
      ["mid-backfill", lines.slice(0, 3).join("") + lines[3].slice(0, 50)],
      // Nothing backfilled yet.
      ["before the backfill", ""],
      // The head blocks appended, the marker not yet removed.
      ["mid-completion", lines.join("")],
    ];
    for (const [what, stored] of states) {
      await leaveBackfill(bs, checkpoint, stored, lines.slice(8).join(""));
      const stderr = await completes(dir, bootPort);
      assert(
        stderr.includes("resuming the backfill to checkpoint 8"),
        `${what}: ${stderr}`,
      );
      assert(stderr.includes("backfill done"), `${what}: ${stderr}`);
      assert(!stderr.includes("error"), `${what}: ${stderr}`);
    }
  });
});

Deno.test("a backfill whose block.store another node synced past its head store syncs in full", async () => {
  await withBootstrap(async (tmp, bootPort) => {
    const dir = join(tmp, "reg");
    await completes(dir, bootPort);
    const bs = join(dir, "blockstore");
    const checkpoint = (await Deno.readTextFile(join(bs, CHECKPOINTS_FILE)))
      .split("\n").find((l) => l.includes('"number":8,'));
    assert(checkpoint);
    // Stopped at block 9 mid-backfill; then a reference node ran on the
    // directory and synced block.store to block 10.
    await leaveBackfill(bs, checkpoint, lines.join(""), lines[8]);
    const stderr = await completes(dir, bootPort);
    assert(
      stderr.includes(
        "warning: cannot resume from checkpoint 8: block.store holds blocks up to 10, past block 9",
      ),
      stderr,
    );
    // Synced in full from block.store: nothing appended twice.
    assertEquals(
      await Deno.readTextFile(join(bs, "block.store")),
      lines.join(""),
    );
  });
});
