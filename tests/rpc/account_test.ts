import { assert, assertEquals } from "../assert.ts";
import { Code } from "@connectrpc/connect";
import { Account } from "../../src/chain/account.ts";
import { timeNow } from "../../src/chain/time.ts";
import { accountMethods } from "../../src/rpc/account.ts";
import { Account as AccountService } from "../../src/rpc/gen/account_pb.ts";
import { listKeys, readKey } from "../../src/store/key_store.ts";
import { makeChain, type TestChain } from "../fixtures.ts";
import {
  assertCode,
  type TestNode,
  withNode as withServedNode,
} from "./harness.ts";

/** Runs `fn` against a node serving the Account service on `chain`. */
function withNode(
  chain: TestChain,
  fn: (node: TestNode) => Promise<void>,
): Promise<void> {
  return withServedNode(chain, {
    routes: (r, { ledger, keyStoreDir }) => {
      r.service(AccountService, accountMethods({ ledger, keyStoreDir }));
    },
  }, fn);
}

Deno.test("AccountCreate writes a key file and returns its address", async () => {
  await withNode(makeChain(0, 1), async ({ keyStoreDir, clients }) => {
    const { Address } = await clients.account.accountCreate({
      Password: "héllo", // 6 UTF-8 bytes
    });
    assert(/^[0-9a-f]{64}$/.test(Address), Address);
    assertEquals(await listKeys(keyStoreDir), [Address]);
    const info = await Deno.stat(`${keyStoreDir}/${Address}`);
    if (Deno.build.os !== "windows") assertEquals(info.mode! & 0o777, 0o600);
    const account = await readKey(keyStoreDir, Address, "héllo");
    assertEquals(account.address, Address);

    const second = await clients.account.accountCreate({ Password: "12345" });
    assert(second.Address !== Address);
    assertEquals(
      await listKeys(keyStoreDir),
      [Address, second.Address].sort(),
    );
  });
});

Deno.test("AccountCreate refuses a short password", async () => {
  await withNode(makeChain(0, 1), async ({ keyStoreDir, clients }) => {
    for (const Password of ["", "1234", "éé"]) {
      await assertCode(
        () => clients.account.accountCreate({ Password }),
        Code.InvalidArgument,
        "password must be at least 5 bytes",
      );
    }
    assertEquals(await listKeys(keyStoreDir), []);
  });
});

Deno.test("AccountBalance: confirmed balances, NotFound for unknown", async () => {
  const chain = makeChain(2, 2, { balance: 1000n });
  await withNode(chain, async ({ ledger, clients }) => {
    const balance = async (Address: string): Promise<bigint> =>
      (await clients.account.accountBalance({ Address })).Balance;
    // The owner sent 1 + 2 + 3 + 4 to others[1], others[2], others[0], others[1].
    assertEquals(await balance(chain.owner.address), 990n);
    assertEquals(await balance(chain.others[0].address), 3n);
    assertEquals(await balance(chain.others[1].address), 5n);
    assertEquals(await balance(chain.others[2].address), 2n);

    // A pending transaction does not change the confirmed balance.
    ledger.sendTx(chain.owner.signTx({
      from: chain.owner.address,
      to: chain.others[0].address,
      value: 100n,
      nonce: 5n,
      time: timeNow(),
    }));
    assertEquals(ledger.state.balance(chain.owner.address, true), 890n);
    assertEquals(await balance(chain.owner.address), 990n);

    const stranger = Account.create().address;
    await assertCode(
      () => balance(stranger),
      Code.NotFound,
      `account ${stranger} has no balance`,
    );
    await assertCode(() => balance(""), Code.InvalidArgument, "Address");
  });
});
