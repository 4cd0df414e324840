import { assertEquals, assertThrows } from "../assert.ts";
import { UsageError } from "../../src/cli/args.ts";
import { nodeConfigFromFlags } from "../../src/cli/node_commands.ts";

const BOOT = { node: "127.0.0.1:1122", bootstrap: true };
const REG = { node: "127.0.0.1:1123", seed: "127.0.0.1:1122" };

Deno.test("--checkpoint-interval: the bootstrap's, 1 to 10^9 blocks", () => {
  assertEquals(nodeConfigFromFlags(BOOT).checkpointInterval, undefined);
  assertEquals(
    nodeConfigFromFlags({ ...BOOT, "checkpoint-interval": "500" })
      .checkpointInterval,
    500n,
  );
  for (const bad of ["0", "-1", "1.5", "x", "1000000001"]) {
    assertThrows(
      () => nodeConfigFromFlags({ ...BOOT, "checkpoint-interval": bad }),
      UsageError,
      "--checkpoint-interval",
    );
  }
  assertThrows(
    () => nodeConfigFromFlags({ ...REG, "checkpoint-interval": "500" }),
    UsageError,
    "--checkpoint-interval: only the bootstrap node sets it",
  );
});

Deno.test("--sync and --assume-valid: a regular node's", () => {
  assertEquals(nodeConfigFromFlags(REG).sync, undefined);
  assertEquals(nodeConfigFromFlags({ ...REG, sync: "full" }).sync, "full");
  assertEquals(
    nodeConfigFromFlags({ ...REG, sync: "checkpoint" }).sync,
    "checkpoint",
  );
  assertThrows(
    () => nodeConfigFromFlags({ ...REG, sync: "fast" }),
    UsageError,
    '--sync: expected checkpoint or full, got "fast"',
  );
  const hash = "AB".repeat(32);
  assertEquals(
    nodeConfigFromFlags({ ...REG, "assume-valid": hash }).assumeValid,
    hash.toLowerCase(),
  );
  assertEquals(
    nodeConfigFromFlags({ ...REG, "assume-valid": "none" }).assumeValid,
    undefined,
  );
  assertThrows(
    () => nodeConfigFromFlags({ ...REG, "assume-valid": "abc" }),
    UsageError,
    "--assume-valid: expected a block hash of 64 hex characters or none",
  );
  assertThrows(
    () => nodeConfigFromFlags({ ...BOOT, sync: "full" }),
    UsageError,
    "--sync: only for a regular node",
  );
});
