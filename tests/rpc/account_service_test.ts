import { assert, assertEquals } from "../assert.ts";
import { Code, type ConnectError } from "@connectrpc/connect";
import { Account } from "../../src/chain/account.ts";
import { timeNow } from "../../src/chain/time.ts";
import {
  type AccountCreateLimits,
  accountMethods,
  ACCOUNTS_PER_MINUTE,
} from "../../src/rpc/account_service.ts";
import { Account as AccountService } from "../../src/rpc/gen/account_pb.ts";
import { listKeys, readKey, writeKey } from "../../src/store/key_store.ts";
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
  createLimits?: AccountCreateLimits,
): Promise<void> {
  return withServedNode(chain, {
    routes: (r, { ledger, keyStoreDir }) => {
      r.service(
        AccountService,
        accountMethods({ ledger, keyStoreDir, createLimits }),
      );
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
    await ledger.submitTx(chain.owner.signTx({
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

Deno.test("AccountCreate: at most so many a minute", async () => {
  let now = 1_000_000;
  await withNode(makeChain(0, 1), async ({ keyStoreDir, clients }) => {
    const create = () => clients.account.accountCreate({ Password: "12345" });
    for (let i = 0; i < 3; i++) await create();
    await assertCode(
      create,
      Code.ResourceExhausted,
      "too many new accounts: this node creates at most 3 a minute; try again in 20s",
    );
    assertEquals((await listKeys(keyStoreDir)).length, 3);
    now += 19_000;
    await assertCode(create, Code.ResourceExhausted, "try again in 1s");
    now += 1_000;
    await create();
    await assertCode(create, Code.ResourceExhausted, "try again in 20s");
    // A quiet while refills the bucket, but not beyond the burst.
    now += 10 * 60_000;
    for (let i = 0; i < 3; i++) await create();
    await assertCode(create, Code.ResourceExhausted, "at most 3 a minute");
    assertEquals((await listKeys(keyStoreDir)).length, 7);
  }, { perMinute: 3, now: () => now });
});

Deno.test("AccountCreate: the rate limit runs on the monotonic clock, not the wall clock", async () => {
  const realDateNow = Date.now;
  const realPerformanceNow = performance.now;
  let monotonic = 0;
  let wall = 0;
  // Both clocks keep running (the server's shutdown waits by one), shifted
  // when the test says.
  Date.now = () => realDateNow() + wall;
  performance.now = () => realPerformanceNow.call(performance) + monotonic;
  try {
    await withNode(makeChain(0, 1), async ({ keyStoreDir, clients }) => {
      const create = () => clients.account.accountCreate({ Password: "12345" });
      await create();
      await assertCode(create, Code.ResourceExhausted, "try again in");
      // A wall clock 20 minutes ahead refills nothing.
      wall += 20 * 60_000;
      await assertCode(create, Code.ResourceExhausted, "try again in");
      monotonic += 60_000;
      await create();
      assertEquals((await listKeys(keyStoreDir)).length, 2);
    }, { perMinute: 1 });
  } finally {
    Date.now = realDateNow;
    performance.now = realPerformanceNow;
  }
});

Deno.test("AccountCreate: the default rate", async () => {
  await withNode(makeChain(0, 1), async ({ keyStoreDir, clients }) => {
    const create = () => clients.account.accountCreate({ Password: "12345" });
    for (let i = 0; i < ACCOUNTS_PER_MINUTE; i++) await create();
    await assertCode(
      create,
      Code.ResourceExhausted,
      `at most ${ACCOUNTS_PER_MINUTE} a minute`,
    );
    assertEquals((await listKeys(keyStoreDir)).length, ACCOUNTS_PER_MINUTE);
  });
});

Deno.test("AccountCreate stops at the key file bound, also under concurrent calls", async () => {
  await withNode(makeChain(0, 1), async ({ keyStoreDir, clients }) => {
    // A key file written by someone else counts too.
    await writeKey(keyStoreDir, Account.create(), "12345");
    const results = await Promise.allSettled(
      Array.from(
        { length: 8 },
        () => clients.account.accountCreate({ Password: "12345" }),
      ),
    );
    const created = results.filter((r) => r.status === "fulfilled");
    assertEquals(created.length, 4);
    for (const r of results) {
      if (r.status === "fulfilled") continue;
      const e = r.reason as ConnectError;
      assertEquals(Code[e.code], "ResourceExhausted");
      assertEquals(
        e.rawMessage,
        `the node's key store is full: it holds 5 key files, the most AccountCreate fills it to; remove unused key files to make room`,
      );
    }
    assertEquals((await listKeys(keyStoreDir)).length, 5);
    // Room again once a key file is removed.
    await Deno.remove(`${keyStoreDir}/${(await listKeys(keyStoreDir))[0]}`);
    await clients.account.accountCreate({ Password: "12345" });
    assertEquals((await listKeys(keyStoreDir)).length, 5);
  }, { maxKeyFiles: 5, perMinute: 100 });
});
