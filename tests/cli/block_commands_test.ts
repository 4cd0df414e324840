import { assertEquals, assertRejects, assertThrows } from "../assert.ts";
import { blockHash, encodeSigBlock } from "../../src/chain/block.ts";
import { formatTime } from "../../src/chain/time.ts";
import { UsageError } from "../../src/cli/args.ts";
import { blockSearchQuery, formatBlock } from "../../src/cli/block_commands.ts";
import { formatTx } from "../../src/cli/format.ts";
import { CHAIN, NODE, run, withFake } from "./harness.ts";

Deno.test("block search flags", async () => {
  await assertRejects(
    () => run("block search", ["--node", NODE]),
    UsageError,
    "give one of --number, --hash and --parent",
  );
  assertThrows(
    () => blockSearchQuery({ number: "1", parent: "ab" }),
    UsageError,
    "give only one of --number, --hash and --parent, not --number and --parent",
  );
  assertThrows(
    () => blockSearchQuery({ number: "0" }),
    UsageError,
    "--number: blocks are numbered from 1",
  );
  assertThrows(
    () => blockSearchQuery({ number: "-2" }),
    UsageError,
    "--number: expected an unsigned 64-bit integer",
  );
  assertThrows(
    () => blockSearchQuery({ hash: "xyz" }),
    UsageError,
    '--hash: expected a prefix of 1 to 64 hex characters, got "xyz"',
  );
  assertEquals(blockSearchQuery({ number: "7" }).request, { number: 7n });
  assertEquals(blockSearchQuery({ hash: "ABc" }).request, { hash: "abc" });
  assertEquals(blockSearchQuery({ parent: "0f" }).request, { parent: "0f" });
});

Deno.test("block format", () => {
  const b = CHAIN.blocks[1];
  const lines = formatBlock(b).split("\n");
  assertEquals(lines.length, 1 + b.txs.length);
  assertEquals(
    lines[0],
    `blk 2: ${blockHash(b)} -> ${b.parent.slice(0, 7)} txs 3 mrk ${
      b.merkleRoot.slice(0, 7)
    } ${formatTime(b.time)}`,
  );
  assertEquals(lines.slice(1), b.txs.map((tx) => `  ${formatTx(tx)}`));
});

Deno.test("block search against a fake node", async () => {
  await withFake(async (node) => {
    const b = CHAIN.blocks[1];
    assertEquals(
      await run("block search", ["--node", node, "--number", "2"]),
      formatBlock(b).split("\n"),
    );
    assertEquals(
      await run("block search", ["--node", node, "--number", "2", "--json"]),
      [encodeSigBlock(b)],
    );
    await assertRejects(
      () => run("block search", ["--node", node, "--number", "9"]),
      Error,
      "no block matches --number 9",
    );
  });
});
