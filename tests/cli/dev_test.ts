import { assert, assertEquals, assertThrows } from "../assert.ts";
import { UsageError } from "../../src/cli/args.ts";
import { runCommand } from "../../src/cli/command.ts";
import {
  createDevChain,
  DEV,
  DEV_CHAIN,
  devNodeDirs,
  devOptionsFromFlags,
} from "../../src/cli/dev.ts";
import { BlockStore } from "../../src/store/block_store.ts";
import { listKeys } from "../../src/store/key_store.ts";
import { freePort } from "../e2e/helpers.ts";
import { withTempDir } from "../support.ts";
import { captureIo } from "./harness.ts";

Deno.test("bcn dev flags: defaults and bounds", () => {
  assertEquals(devOptionsFromFlags({}), {
    nodes: 3,
    accounts: 5,
    balance: 1_000_000n,
    periodMs: 1000,
    port: 1122,
    dir: undefined,
  });
  assertEquals(
    devOptionsFromFlags({ nodes: "32", port: "65504", period: "200ms" }).nodes,
    32,
  );
  const bad: [Record<string, string>, string][] = [
    [{ nodes: "33" }, '--nodes: expected an integer from 1 to 32, got "33"'],
    [{ accounts: "0" }, "--accounts: expected an integer from 1 to 100"],
    [{ port: "1e3" }, '--port: expected an integer from 1 to 65535, got "1e3"'],
    [{ nodes: "3", port: "65534" }, "--port: 3 nodes from port 65534 go past"],
    [{ balance: "0" }, "--balance: must be positive"],
    [
      { accounts: "2", balance: "18446744073709551615" },
      "--balance: 2 accounts of 18446744073709551615 exceed a u64 in total",
    ],
    [{ period: "5" }, "--period: expected a duration"],
  ];
  for (const [flags, message] of bad) {
    assertThrows(() => devOptionsFromFlags(flags), UsageError, message);
  }
});

Deno.test("a new dev chain: keys spread over the nodes, the genesis on node 0", async () => {
  await withTempDir(async (dir) => {
    const accounts = await createDevChain(dir, {
      nodes: 2,
      accounts: 3,
      balance: 7n,
    });
    assertEquals(accounts.length, 3);
    const keys0 = await listKeys(devNodeDirs(dir, 0).keyStoreDir);
    const keys1 = await listKeys(devNodeDirs(dir, 1).keyStoreDir);
    // Node 0 holds the authority and accounts 0 and 2; node 1 account 1.
    assertEquals(keys0.length, 3);
    assertEquals(keys1, [accounts[1]]);
    assert(keys0.includes(accounts[0]) && keys0.includes(accounts[2]));
    const store = await BlockStore.open(devNodeDirs(dir, 0).blockStoreDir);
    const genesis = await store.readGenesis();
    assertEquals(genesis?.chain, DEV_CHAIN);
    assertEquals(
      [...(genesis?.balances.entries() ?? [])].sort(),
      accounts.map((a) => [a, 7n] as [string, bigint]).sort(),
    );
  });
});

Deno.test("bcn dev prints its summary on out, stops on an abort and says so on err", async () => {
  await withTempDir(async (dir) => {
    const stop = new AbortController();
    const io = captureIo({ signal: stop.signal, onOut: () => stop.abort() });
    const port = freePort();
    await runCommand(DEV, [
      "--nodes",
      "1",
      "--accounts",
      "1",
      "--port",
      String(port),
      "--dir",
      dir,
    ], io);
    assert(io.lines[0].startsWith(`bcn dev: chain ${DEV_CHAIN}, genesis `));
    assert(
      io.lines.includes(`  curl -s http://127.0.0.1:${port}/metrics`),
      io.lines.join("\n"),
    );
    assertEquals(io.errors.at(-1), "bcn dev: every node stopped");
  });
});
