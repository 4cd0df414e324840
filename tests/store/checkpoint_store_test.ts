import { join } from "node:path";
import { assert, assertEquals, assertRejects } from "../assert.ts";
import { Account } from "../../src/chain/account.ts";
import {
  type Checkpoint,
  encodeSigCheckpoint,
} from "../../src/chain/checkpoint.ts";
import {
  CHECKPOINT_STATE_FILE,
  CHECKPOINTS_FILE,
  CheckpointStore,
} from "../../src/store/checkpoint_store.ts";
import { withTempDir } from "../support.ts";

const auth = Account.create();
const H = "a".repeat(64);

function record(number: bigint, state = H): Checkpoint {
  return {
    chain: "c",
    genesis: H,
    interval: 2n,
    number,
    block: H,
    state,
    accounts: 1n,
  };
}

Deno.test("checkpoint store: appends, reopens, refuses another checkpoint for a block", async () => {
  await withTempDir(async (dir) => {
    const store = await CheckpointStore.open(dir);
    assertEquals(store.newest(), undefined);
    const c2 = auth.signCheckpoint(record(2n));
    const c4 = auth.signCheckpoint(record(4n));
    await store.append(c2);
    await store.append(c4);
    await store.append(c2); // the same again: nothing
    await assertRejects(
      () => store.append(auth.signCheckpoint(record(2n, "b".repeat(64)))),
      Error,
      "already holds another checkpoint for block 2",
    );
    const again = await CheckpointStore.open(dir);
    assertEquals(again.all().map((c) => c.number), [2n, 4n]);
    assertEquals(again.newest()?.number, 4n);
    assertEquals(
      await Deno.readTextFile(join(dir, CHECKPOINTS_FILE)),
      encodeSigCheckpoint(c2) + "\n" + encodeSigCheckpoint(c4) + "\n",
    );
  });
});

Deno.test("checkpoint store: a torn last line is cut off, a bad line skipped, both said", async () => {
  await withTempDir(async (dir) => {
    const c2 = auth.signCheckpoint(record(2n));
    await Deno.writeTextFile(
      join(dir, CHECKPOINTS_FILE),
      "not json\n" + encodeSigCheckpoint(c2) + '\n{"chain":',
    );
    const warnings: string[] = [];
    const store = await CheckpointStore.open(dir, {
      onWarning: (m) => warnings.push(m),
    });
    assertEquals(store.all().map((c) => c.number), [2n]);
    assertEquals(warnings.length, 2);
    assert(warnings[0].includes("torn last line"));
    assert(warnings[1].includes("line 1 skipped"));
    assertEquals(
      await Deno.readTextFile(join(dir, CHECKPOINTS_FILE)),
      "not json\n" + encodeSigCheckpoint(c2) + "\n",
    );
  });
});

Deno.test("checkpoint store: the state is kept for one checkpoint", async () => {
  await withTempDir(async (dir) => {
    const store = await CheckpointStore.open(dir);
    const c2 = auth.signCheckpoint(record(2n));
    const c4 = auth.signCheckpoint(record(4n));
    const block = new TextEncoder().encode('{"number":4}');
    await store.writeState(c4, block, ['[["a",1,0]]', '[["b",2,1]]']);
    assertEquals(await store.readState(c2), undefined);
    const kept = await store.readState(c4);
    assert(kept);
    assertEquals(new TextDecoder().decode(kept.block), '{"number":4}');
    const chunks: string[] = [];
    for await (const c of kept.chunks) chunks.push(new TextDecoder().decode(c));
    assertEquals(chunks, ['[["a",1,0]]', '[["b",2,1]]']);
    assert((await Deno.stat(join(dir, CHECKPOINT_STATE_FILE))).isFile);
  });
});

Deno.test("checkpoint store: kept chunks longer than a read, past a written piece, come back whole", async () => {
  await withTempDir(async (dir) => {
    const store = await CheckpointStore.open(dir);
    const c4 = auth.signCheckpoint(record(4n));
    // Lines across many 64 KiB reads, ending on and beside their edges.
    const long = `[["${"x".repeat(200_000)}",1,0]]`;
    const edge = `[["${"y".repeat(65_536 - 12)}",1,0]]`;
    // Past 1 MiB in all: written in more than one piece.
    const lines = [long, '[["z",1,0]]', edge, long, long, long, long, long];
    await store.writeState(c4, new TextEncoder().encode("{}"), lines);
    const kept = await store.readState(c4);
    assert(kept);
    const got: string[] = [];
    for await (const c of kept.chunks) got.push(new TextDecoder().decode(c));
    assertEquals(got, lines);
  });
});

Deno.test("checkpoint store: a state write's leftover temporary file is removed on open", async () => {
  await withTempDir(async (dir) => {
    // What a crash mid-writeState leaves (as large as the state).
    const stray = join(dir, `.${CHECKPOINT_STATE_FILE}.tmp-1a2b3c4d`);
    await Deno.writeTextFile(stray, "[".repeat(1000));
    const other = join(dir, ".genesis.json.tmp-1a2b3c4d");
    await Deno.writeTextFile(other, "{");
    const warnings: string[] = [];
    await CheckpointStore.open(dir, { onWarning: (m) => warnings.push(m) });
    assertEquals(await Deno.stat(stray).catch(() => undefined), undefined);
    assert((await Deno.stat(other)).isFile); // not the checkpoint store's
    assertEquals(warnings, [
      `removed .${CHECKPOINT_STATE_FILE}.tmp-1a2b3c4d, left by an interrupted write`,
    ]);
  });
});
