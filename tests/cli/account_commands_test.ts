import { assertEquals, assertRejects } from "../assert.ts";
import { UsageError } from "../../src/cli/args.ts";
import {
  formatAccountCreated,
  formatBalance,
} from "../../src/cli/account_commands.ts";
import { NodeError } from "../../src/client/call_errors.ts";
import { H64, NODE, OWNER, run, withFake } from "./harness.ts";

Deno.test("account commands: required flags", async () => {
  await assertRejects(
    () => run("account create", ["--node", NODE]),
    UsageError,
    "missing --ownerpass",
  );
  await assertRejects(
    () => run("account balance", ["--node", NODE]),
    UsageError,
    "missing --account",
  );
});

Deno.test("account balance: a bad address never reaches the node", async () => {
  // NODE has nothing listening: a call would fail with "cannot reach".
  for (const bad of ["zz", "a".repeat(63), "g".repeat(64)]) {
    await assertRejects(
      () => run("account balance", ["--node", NODE, "--account", bad]),
      UsageError,
      `--account: invalid address "${bad}": expected 64 hex characters`,
    );
  }
});

Deno.test("account formats", () => {
  assertEquals(formatAccountCreated(H64, false), `acc ${H64}`);
  assertEquals(formatAccountCreated(H64, true), `{"address":"${H64}"}`);
  assertEquals(formatBalance(H64, 42n, false), `acc ${H64}: 42`);
  assertEquals(
    formatBalance(H64, 18446744073709551615n, true),
    `{"address":"${H64}","balance":18446744073709551615}`,
  );
  assertEquals(
    formatBalance('a"<b', 0n, true),
    '{"address":"a\\"\\u003cb","balance":0}',
  );
});

Deno.test("account commands against a fake node", async () => {
  await withFake(async (node) => {
    assertEquals(
      await run("account create", ["--node", node, "--ownerpass", "secret"]),
      [`acc ${H64}`],
    );
    assertEquals(
      await run("account create", [
        "--node",
        node,
        "--ownerpass",
        "secret",
        "--json",
      ]),
      [`{"address":"${H64}"}`],
    );
    await assertRejects(
      () => run("account create", ["--node", node, "--ownerpass", "abc"]),
      UsageError,
      "--ownerpass must be at least 5 bytes",
    );
    assertEquals(
      await run("account balance", ["--node", node, "--account", OWNER]),
      [`acc ${OWNER}: 1000000`],
    );
    assertEquals(
      await run("account balance", [
        "--node",
        node,
        "--account",
        OWNER,
        "--json",
      ]),
      [`{"address":"${OWNER}","balance":1000000}`],
    );
    await assertRejects(
      () => run("account balance", ["--node", node, "--account", H64]),
      NodeError,
      `node ${node}: unknown account: account ${H64} has no balance`,
    );
  });
});
