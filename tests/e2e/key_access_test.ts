/**
 * End-to-end: a real `bcn node start` serves TxSign and AccountCreate to
 * local clients only, unless `--allow-keys-from` widens it (with a warning);
 * a client from 127.0.0.2 stands for another machine.
 */
import { join } from "node:path";
import { assert, assertEquals } from "../assert.ts";
import { Code } from "@connectrpc/connect";
import { decodeSigTx } from "../../src/chain/tx.ts";
import { listKeys } from "../../src/store/key_store.ts";
import { assertCode, canBind, clientsFrom, collect } from "../rpc/harness.ts";
import {
  bootstrapArgs,
  freePort,
  runBcn,
  startBcn,
  withTempDir,
} from "./helpers.ts";

const PASS = "password";
const REMOTE = "127.0.0.2";
const WARNING =
  "warning: TxSign and AccountCreate, which use the key store, are served to";

function startArgs(port: number, dir: string, extra: string[]): string[] {
  return [
    ...bootstrapArgs(`127.0.0.1:${port}`, { password: PASS, dir }),
    ...extra,
  ];
}

Deno.test({
  name:
    "bcn node start: key-store calls for local clients only, --allow-keys-from widens it with one warning",
  ignore: !canBind(REMOTE),
  fn: () =>
    withTempDir(async (dir) => {
      const port = freePort();
      const addr = `127.0.0.1:${port}`;
      const keyStore = join(dir, "keystore");

      // Default: refused from 127.0.0.2, the rest served.
      let bcn = await startBcn(startArgs(port, dir, []));
      let owner: string;
      try {
        const out = await bcn.waitFor(`<=> gRPC ${addr}\n`);
        owner = /^owner +([0-9a-f]{64})$/m.exec(out)![1];
        const remote = clientsFrom(addr, REMOTE, "connect");
        try {
          await assertCode(
            () =>
              remote.clients.tx.txSign({
                From: owner,
                To: owner,
                Value: 1n,
                Password: PASS,
              }),
            Code.PermissionDenied,
            `start the node with --allow-keys-from ${REMOTE}`,
          );
          await assertCode(
            () => remote.clients.account.accountCreate({ Password: PASS }),
            Code.PermissionDenied,
            "AccountCreate uses the node's key store",
          );
          const balance = await remote.clients.account.accountBalance({
            Address: owner,
          });
          assertEquals(balance.Balance, 1000n);
          assertEquals(
            (await collect(remote.clients.block.blockSync({ Number: 1n })))
              .length,
            0,
          );
        } finally {
          remote.close();
        }
        assertEquals((await listKeys(keyStore)).length, 2);
      } finally {
        const { stderr } = await bcn.stop();
        assert(!stderr.includes(WARNING), stderr);
      }

      // Widened: served from 127.0.0.2, and the node says so once.
      bcn = await startBcn(startArgs(port, dir, ["--allow-keys-from", REMOTE]));
      try {
        await bcn.waitFor(`<=> gRPC ${addr}\n`);
        const remote = clientsFrom(addr, REMOTE, "connect");
        try {
          const res = await remote.clients.tx.txSign({
            From: owner,
            To: owner,
            Value: 1n,
            Password: PASS,
          });
          assertEquals(decodeSigTx(res.Tx).from, owner);
          await remote.clients.account.accountCreate({ Password: PASS });
        } finally {
          remote.close();
        }
        assertEquals((await listKeys(keyStore)).length, 3);
      } finally {
        const { stderr } = await bcn.stop();
        const warnings = stderr.split("\n").filter((l) => l.includes(WARNING));
        assertEquals(warnings, [
          `${WARNING} ${REMOTE} as well as this machine (--allow-keys-from); password guessing is slowed down, not stopped`,
        ]);
      }
    }),
});

Deno.test("bcn node start --allow-keys-from: a bad value is one line, exit 1", async () => {
  await withTempDir(async (dir) => {
    const res = await runBcn(
      startArgs(freePort(), dir, [
        "--allow-keys-from",
        "10.0.0.0/8,10.0.0.300",
      ]),
    );
    assertEquals(res.code, 1);
    assertEquals(
      res.stderr,
      'bcn: --allow-keys-from: invalid address "10.0.0.300": expected an IPv4 or IPv6 address or a CIDR range such as 10.0.0.0/8\n',
    );
    assertEquals(await listKeys(join(dir, "keystore")), []);
  });
});
