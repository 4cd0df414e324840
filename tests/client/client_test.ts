import {
  assert,
  assertEquals,
  assertRejects,
  assertThrows,
} from "../assert.ts";
import { blockHash } from "../../src/chain/block.ts";
import { txHash, verifyTx } from "../../src/chain/tx.ts";
import { Client, encodeNodeEvent } from "../../src/client/client.ts";
import { InputError, NodeError } from "../../src/client/call_errors.ts";
import { signTransfer } from "../../src/client/sign.ts";
import { writeKey } from "../../src/store/key_store.ts";
import {
  CHAIN,
  H64,
  NODE,
  OWNER,
  PROOF,
  searchTx,
  TX,
  withFake,
} from "../cli/harness.ts";
import { freePort } from "../e2e/helpers.ts";
import { sanitizedTest, withTempDir } from "../support.ts";

Deno.test("a client takes host:port or an http URL, nothing else", () => {
  assertEquals(new Client("127.0.0.1:1122").address, "127.0.0.1:1122");
  assertEquals(new Client("http://[::1]:1122/").address, "[::1]:1122");
  for (const bad of ["nohost", "https://127.0.0.1:1122", "127.0.0.1:99999"]) {
    assertThrows(() => new Client(bad), InputError, "invalid node address");
  }
});

Deno.test("input is checked before any call", async () => {
  // NODE has nothing listening: a call would fail with "cannot reach".
  await using client = new Client(NODE);
  await assertRejects(
    () => client.balance("zz"),
    InputError,
    'account: invalid address "zz": expected 64 hex characters',
  );
  await assertRejects(() => client.prove("ab"), InputError, "hash: invalid");
  await assertRejects(
    () => client.verify(H64, [], H64),
    InputError,
    "proof: empty proof",
  );
  await assertRejects(
    () => client.searchBlock({ number: 0n }),
    InputError,
    "number: blocks are numbered from 1",
  );
  await assertRejects(
    () => client.searchTxs({ from: "xyz" }).next(),
    InputError,
    "from: expected a prefix of 1 to 64 hex characters",
  );
  await assertRejects(
    () => client.signOnNode({ from: OWNER, to: H64, value: -1n }, "secret"),
    InputError,
    "value: expected an unsigned 64-bit integer",
  );
  await assertRejects(
    () => client.signOnNode({ from: OWNER, to: "b", value: 1n }, "secret"),
    InputError,
    'to: invalid address "b": expected 64 hex characters',
  );
});

sanitizedTest(
  "every call against a fake node, and nothing left behind",
  async () => {
    await withFake(async (node) => {
      await using client = new Client(node);
      assertEquals(await client.balance(OWNER), 1_000_000n);
      await assertRejects(
        () => client.balance(H64),
        NodeError,
        `node ${node}: unknown account: account ${H64} has no balance`,
      );
      assertEquals(await client.createAccount("secret"), H64);
      assertEquals(
        txHash(
          await client.signOnNode(
            { from: OWNER, to: H64, value: 1n },
            "secret",
          ),
        ),
        txHash(TX),
      );
      assertEquals(await client.send(TX), { hash: txHash(TX), queued: false });
      const to = CHAIN.blocks[0].txs[1].to;
      const found = [];
      for await (const t of client.searchTxs({ to })) found.push(txHash(t));
      assert(found.includes(txHash(searchTx(0, 1))));
      // The fake node keeps a block search open: the client ends it.
      const block = await client.searchBlock({ number: 2n });
      assertEquals(block && blockHash(block), blockHash(CHAIN.blocks[1]));
      assertEquals(await client.searchBlock({ number: 9n }), undefined);
      assertEquals(await client.prove(txHash(CHAIN.blocks[0].txs[1])), PROOF);
      assert(
        await client.verify(
          txHash(CHAIN.blocks[0].txs[1]),
          PROOF,
          CHAIN.blocks[0].merkleRoot,
        ),
      );
      assertEquals(await client.nextNonce(OWNER), 7n);
    });
  },
);

Deno.test("subscribe yields decoded events until aborted or the node ends", async () => {
  await withFake(async (node) => {
    await using client = new Client(node);
    const stop = new AbortController();
    const seen: string[] = [];
    for await (
      const e of client.subscribe({ events: ["block"], signal: stop.signal })
    ) {
      assert(e.type === "block");
      seen.push(encodeNodeEvent(e));
      if (seen.length === CHAIN.blocks.length) stop.abort();
    }
    assertEquals(seen.length, CHAIN.blocks.length);
    assert(
      seen[0].startsWith('{"type":"block","action":"validated","block":{'),
    );
  });
  await withFake(async (node) => {
    await using client = new Client(node);
    await assertRejects(
      async () => {
        for await (const e of client.subscribe({ events: ["tx"] })) {
          assert(e.type === "tx" && verifyTx(e.tx));
        }
      },
      NodeError,
      `node ${node} ended the event stream`,
    );
  }, { ended: true });
});

Deno.test("an unreachable node is one line", async () => {
  const addr = `127.0.0.1:${freePort()}`;
  await using client = new Client(addr);
  await assertRejects(
    () => client.balance(OWNER),
    NodeError,
    `cannot reach node ${addr}: connection refused`,
  );
  await assertRejects(
    () => client.status(),
    NodeError,
    `cannot reach node ${addr}: connection refused`,
  );
});

Deno.test("signTransfer signs with the key file, here", async () => {
  await withTempDir(async (dir) => {
    await writeKey(dir, CHAIN.owner, "secret");
    const tx = await signTransfer(
      {
        from: OWNER.toUpperCase(),
        to: H64.toUpperCase(),
        value: 3n,
        nonce: 9n,
      },
      { keyStore: dir, password: "secret" },
    );
    assertEquals([tx.from, tx.to, tx.nonce, verifyTx(tx)], [
      OWNER,
      H64,
      9n,
      true,
    ]);
    await assertRejects(
      () =>
        signTransfer({ from: OWNER, to: H64, value: 3n }, {
          keyStore: dir,
          password: "secret",
        }),
      InputError,
      "nonce: required to sign without a node",
    );
  });
});
