import { assert, assertEquals, assertRejects } from "../assert.ts";
import { Code } from "@connectrpc/connect";
import { Account } from "../../src/chain/account.ts";
import { blockHash } from "../../src/chain/block.ts";
import { timeNow } from "../../src/chain/time.ts";
import { decodeMerkleProof } from "../../src/chain/merkle.ts";
import {
  decodeSearchTx,
  encodeSearchTx,
  type SearchTx,
} from "../../src/chain/search_tx.ts";
import {
  decodeSigTx,
  encodeSigTx,
  type SigTx,
  txHash,
  verifyTx,
} from "../../src/chain/tx.ts";
import { Tx } from "../../src/rpc/gen/tx_pb.ts";
import { TX_STATUS_HEADER, txMethods } from "../../src/rpc/tx_service.ts";
import { writeKey } from "../../src/store/key_store.ts";
import { makeChain, type TestChain } from "../fixtures.ts";
import {
  assertCode,
  collect,
  type OpenNode,
  startNode as startServedNode,
  type TestNode,
} from "./harness.ts";

const PASSWORD = "secret password";
const utf8 = new TextEncoder();
const text = new TextDecoder();

/** A node serving the Tx service on `chain`, with the owner's key. */
function startNode(chain: TestChain): Promise<OpenNode> {
  return startServedNode(chain, {
    setup: (node) => writeKey(node.keyStoreDir, chain.owner, PASSWORD).then(),
    routes: (r, { ledger, keyStoreDir }) => {
      r.service(Tx, txMethods({ ledger, keyStoreDir }));
    },
  });
}

async function search(
  node: TestNode,
  req: { Hash?: string; From?: string; To?: string; Account?: string },
): Promise<SearchTx[]> {
  const res = await collect(node.clients.tx.txSearch(req));
  return res.map((r) => {
    const found = decodeSearchTx(r.Tx);
    assertEquals(text.decode(r.Tx), encodeSearchTx(found), "canonical");
    return found;
  });
}

/** Every confirmed transaction of a chain as TxSearch reports it. */
function confirmed(chain: TestChain): SearchTx[] {
  return chain.blocks.flatMap((b) =>
    b.txs.map((tx) => ({
      ...tx,
      blockNumber: b.number,
      blockHash: blockHash(b),
      merkleRoot: b.merkleRoot,
    }))
  );
}

async function* relay(
  messages: readonly Uint8Array[],
): AsyncGenerator<{ Tx: Uint8Array }> {
  for (const m of messages) yield { Tx: m };
}

function hashes(txs: readonly SigTx[]): string[] {
  return txs.map((tx) => txHash(tx));
}

Deno.test("TxSign then TxSend: the pending state changes", async () => {
  const chain = makeChain(1, 2);
  const node = await startNode(chain);
  try {
    const { state } = node.ledger;
    const owner = chain.owner.address;
    const to = chain.others[0].address;
    const before = state.balance(owner, true)!;
    const signed = await node.clients.tx.txSign({
      From: owner.toUpperCase(),
      To: to,
      Value: 7n,
      Password: PASSWORD,
    });
    const tx = decodeSigTx(signed.Tx);
    assertEquals(text.decode(signed.Tx), encodeSigTx(tx));
    assertEquals([tx.from, tx.to, tx.value, tx.nonce], [owner, to, 7n, 3n]);
    assert(verifyTx(tx));
    // Signing does not send.
    assertEquals(state.balance(owner, true), before);
    assertEquals(state.pendingTxs().length, 0);

    const sent = await node.clients.tx.txSend({ Tx: signed.Tx });
    assertEquals(sent.Hash, txHash(tx));
    assertEquals(state.balance(owner, true), before - 7n);
    assertEquals(state.balance(owner), before);
    assertEquals(state.nonce(owner, true), 3n);

    // The next signature takes the next pending nonce.
    const next = await node.clients.tx.txSign({
      From: owner,
      To: to,
      Value: 1n,
      Password: PASSWORD,
    });
    assertEquals(decodeSigTx(next.Tx).nonce, 4n);

    // The same transaction again does not apply.
    await assertCode(
      () => node.clients.tx.txSend({ Tx: signed.Tx }),
      Code.FailedPrecondition,
      "already pending",
    );
  } finally {
    await node.close();
  }
});

Deno.test("TxSign errors: wrong password, no key, bad address", async () => {
  const chain = makeChain(0, 1);
  const node = await startNode(chain);
  try {
    const tx = node.clients.tx;
    const to = chain.others[0].address;
    await assertCode(
      () =>
        tx.txSign({
          From: chain.owner.address,
          To: to,
          Value: 1n,
          Password: "wrong password",
        }),
      Code.PermissionDenied,
      // Never the node's key-store path.
      `[permission_denied] cannot decrypt the key file of account ${chain.owner.address}: wrong password or corrupted file`,
    );
    const stranger = Account.create().address;
    await assertCode(
      () =>
        tx.txSign({ From: stranger, To: to, Value: 1n, Password: PASSWORD }),
      Code.NotFound,
      `[not_found] no key for account ${stranger} in the key store`,
    );
    await assertCode(
      () => tx.txSign({ From: "xyz", To: to, Value: 1n, Password: PASSWORD }),
      Code.InvalidArgument,
      "invalid From address",
    );
    await assertCode(
      () =>
        tx.txSign({ From: "../" + "0".repeat(61), To: to, Password: PASSWORD }),
      Code.InvalidArgument,
      "expected 64 hex characters",
    );
  } finally {
    await node.close();
  }
});

Deno.test("TxSend errors: undecodable and not applicable", async () => {
  const chain = makeChain(1, 1);
  const node = await startNode(chain);
  try {
    const tx = node.clients.tx;
    await assertCode(
      () => tx.txSend({ Tx: utf8.encode('{"from":"a"}') }),
      Code.InvalidArgument,
      "tx.to: missing",
    );
    await assertCode(
      () => tx.txSend({ Tx: utf8.encode("not json") }),
      Code.InvalidArgument,
      "invalid JSON",
    );
    // A confirmed transaction replayed: its nonce is used.
    const replay = utf8.encode(encodeSigTx(chain.blocks[0].txs[0]));
    await assertCode(
      () => tx.txSend({ Tx: replay }),
      Code.FailedPrecondition,
      "wrong nonce: expected 2, got 1",
    );
    // Too much.
    const greedy = chain.owner.signTx({
      from: chain.owner.address,
      to: chain.others[0].address,
      value: 10n ** 12n,
      nonce: 2n,
      time: timeNow(),
    });
    await assertCode(
      () => tx.txSend({ Tx: utf8.encode(encodeSigTx(greedy)) }),
      Code.FailedPrecondition,
      "insufficient funds",
    );
    assertEquals(node.ledger.state.pendingTxs().length, 0);
  } finally {
    await node.close();
  }
});

Deno.test("TxSend queues future nonces, says so in a header, and promotes them", async () => {
  const chain = makeChain(1, 1);
  const node = await startNode(chain);
  try {
    const owner = chain.owner;
    const make = (nonce: bigint): SigTx =>
      owner.signTx({
        from: owner.address,
        to: chain.others[1].address,
        value: nonce,
        nonce,
        time: timeNow(),
      });
    // The owner's next nonce is 2.
    const [fourth, third, second] = [make(4n), make(3n), make(2n)];
    const send = async (tx: SigTx) => {
      let status: string | null = null;
      const res = await node.clients.tx.txSend(
        { Tx: utf8.encode(encodeSigTx(tx)) },
        { onHeader: (h) => status = h.get(TX_STATUS_HEADER) },
      );
      assertEquals(res.Hash, txHash(tx));
      return status;
    };
    assertEquals(await send(fourth), "queued");
    assertEquals(await send(third), "queued");
    const { state } = node.ledger;
    assertEquals(state.pendingTxs(), []);
    assertEquals(await send(second), "pending");
    assertEquals(hashes(state.pendingTxs()), hashes([second, third, fourth]));
    assertEquals(state.nonce(owner.address, true), 4n);
    await assertCode(
      () => node.clients.tx.txSend({ Tx: utf8.encode(encodeSigTx(third)) }),
      Code.FailedPrecondition,
      "already pending",
    );
  } finally {
    await node.close();
  }
});

Deno.test("TxReceive keeps valid relayed txs and drops invalid ones", async () => {
  const chain = makeChain(1, 1);
  const node = await startNode(chain);
  try {
    const owner = chain.owner;
    const make = (nonce: bigint): SigTx =>
      owner.signTx({
        from: owner.address,
        to: chain.others[1].address,
        value: 10n,
        nonce,
        time: timeNow(),
      });
    const first = make(2n);
    const second = make(3n);
    const wrongNonce = make(900n); // too far ahead to be queued
    const forged = { ...make(4n), from: chain.others[0].address };
    const messages = [
      utf8.encode(encodeSigTx(first)),
      utf8.encode("garbage"),
      utf8.encode(encodeSigTx(wrongNonce)),
      utf8.encode(encodeSigTx(forged)),
      utf8.encode(encodeSigTx(first)), // a duplicate
      utf8.encode(encodeSigTx(second)),
    ];
    await node.clients.tx.txReceive(relay(messages));
    const { state } = node.ledger;
    assertEquals(hashes(state.pendingTxs()), hashes([first, second]));
    assertEquals(state.nonce(owner.address, true), 3n);
    assertEquals(state.balance(chain.others[1].address, true), 21n);
  } finally {
    await node.close();
  }
});

Deno.test("TxSearch by hash prefix returns the first match only", async () => {
  // 18 transactions: at least two share a first hex digit.
  const chain = makeChain(6, 3);
  const node = await startNode(chain);
  try {
    const all = confirmed(chain);
    const target = all[4]; // block 2, second tx
    const found = await search(node, {
      Hash: txHash(target).slice(0, 10).toUpperCase(),
    });
    assertEquals(found, [target]);
    assertEquals(found[0].blockNumber, 2n);

    // A one-character prefix shared by several: still only the first.
    const shared = all.find((t, i) =>
      all.slice(i + 1).some((u) => txHash(u)[0] === txHash(t)[0])
    )!;
    assertEquals(await search(node, { Hash: txHash(shared)[0] }), [shared]);

    assertEquals(await search(node, { Hash: txHash(all[8]) }), [all[8]]);
    assertEquals(await search(node, { Hash: "ab".repeat(32) }), []);
  } finally {
    await node.close();
  }
});

Deno.test("TxSearch by from, to and account prefix", async () => {
  const chain = makeChain(3, 3);
  const node = await startNode(chain);
  try {
    const all = confirmed(chain);
    const owner = chain.owner.address;
    const receiver = chain.others[1].address;
    assertEquals(await search(node, { From: owner.slice(0, 12) }), all);
    assertEquals(await search(node, { From: receiver }), []);
    const toReceiver = all.filter((t) => t.to === receiver);
    assert(toReceiver.length > 1);
    assertEquals(await search(node, { To: receiver.slice(0, 12) }), toReceiver);
    assertEquals(await search(node, { Account: receiver }), toReceiver);
    assertEquals(await search(node, { Account: owner }), all);
    assertEquals(await search(node, { Account: "nobody" }), []);
  } finally {
    await node.close();
  }
});

Deno.test("TxSearch needs exactly one criterion", async () => {
  const chain = makeChain(1, 1);
  const node = await startNode(chain);
  try {
    for (
      const req of [
        {},
        { Hash: "ab", From: "cd" },
        { To: "a", Account: "b" },
      ]
    ) {
      await assertCode(
        () => search(node, req),
        Code.InvalidArgument,
        "exactly one of Hash, From, To or Account",
      );
    }
    await assertCode(
      () => search(node, { Hash: "xyz" }),
      Code.InvalidArgument,
      "Hash: expected a prefix",
    );
  } finally {
    await node.close();
  }
});

Deno.test("TxSearch on an empty store finds nothing", async () => {
  const chain = makeChain(0, 1);
  const node = await startNode(chain);
  try {
    assertEquals(await search(node, { From: chain.owner.address }), []);
  } finally {
    await node.close();
  }
});

Deno.test("TxProve then TxVerify, for every tx of multi-tx blocks", async () => {
  const chain = makeChain(3, 5, { receivers: 4 });
  const node = await startNode(chain);
  try {
    const tx = node.clients.tx;
    for (const block of chain.blocks) {
      for (const t of block.txs) {
        const hash = txHash(t);
        const { MerkleProof } = await tx.txProve({ Hash: hash.toUpperCase() });
        assert(decodeMerkleProof(MerkleProof).some((s) => s.hash === hash));
        const ok = await tx.txVerify({
          Hash: hash,
          MerkleProof,
          MerkleRoot: block.merkleRoot,
        });
        assertEquals(ok.Valid, true, `tx ${hash} of block ${block.number}`);
        const tampered = (block.merkleRoot[0] === "0" ? "1" : "0") +
          block.merkleRoot.slice(1);
        const bad = await tx.txVerify({
          Hash: hash,
          MerkleProof,
          MerkleRoot: tampered,
        });
        assertEquals(bad.Valid, false);
        // Another block's root does not verify either.
        const other = chain.blocks.find((b) => b !== block)!;
        const wrong = await tx.txVerify({
          Hash: hash,
          MerkleProof,
          MerkleRoot: other.merkleRoot,
        });
        assertEquals(wrong.Valid, false);
      }
    }
  } finally {
    await node.close();
  }
});

Deno.test("TxProve and TxVerify errors", async () => {
  const chain = makeChain(1, 2);
  const node = await startNode(chain);
  try {
    const tx = node.clients.tx;
    const unknown = "ab".repeat(32);
    await assertCode(
      () => tx.txProve({ Hash: unknown }),
      Code.NotFound,
      `no confirmed transaction ${unknown}`,
    );
    await assertCode(
      () => tx.txProve({ Hash: "abc" }),
      Code.InvalidArgument,
      "Hash: expected a hash of 64 hex characters",
    );
    // A pending transaction is not confirmed.
    const pending = chain.owner.signTx({
      from: chain.owner.address,
      to: chain.others[0].address,
      value: 1n,
      nonce: 3n,
      time: timeNow(),
    });
    await node.ledger.submitTx(pending);
    await assertCode(
      () => tx.txProve({ Hash: txHash(pending) }),
      Code.NotFound,
      "no confirmed transaction",
    );

    const block = chain.blocks[0];
    const hash = txHash(block.txs[0]);
    const { MerkleProof } = await tx.txProve({ Hash: hash });
    await assertCode(
      () =>
        tx.txVerify({ Hash: "zz", MerkleProof, MerkleRoot: block.merkleRoot }),
      Code.InvalidArgument,
      "Hash: expected a hash",
    );
    await assertCode(
      () => tx.txVerify({ Hash: hash, MerkleProof, MerkleRoot: "" }),
      Code.InvalidArgument,
      "MerkleRoot: expected a hash",
    );
    await assertCode(
      () =>
        tx.txVerify({
          Hash: hash,
          MerkleProof: utf8.encode(`[{"hash":"${hash}","pos":3}]`),
          MerkleRoot: block.merkleRoot,
        }),
      Code.InvalidArgument,
      "MerkleProof[0].pos: expected 1 (left) or 2 (right)",
    );
    await assertCode(
      () =>
        tx.txVerify({
          Hash: hash,
          MerkleProof: utf8.encode("{}"),
          MerkleRoot: block.merkleRoot,
        }),
      Code.InvalidArgument,
      "MerkleProof: expected an array",
    );
  } finally {
    await node.close();
  }
});

Deno.test("TxSearch stops when the client goes away", async () => {
  const chain = makeChain(40, 2);
  const node = await startNode(chain);
  try {
    const controller = new AbortController();
    let n = 0;
    await assertRejects(async () => {
      for await (
        const _ of node.clients.tx.txSearch({ From: chain.owner.address }, {
          signal: controller.signal,
        })
      ) {
        if (++n === 3) controller.abort();
      }
    });
    assert(n >= 3 && n < 80, `got ${n}`);
    // The server still answers.
    const again = await search(node, { Hash: txHash(chain.blocks[39].txs[1]) });
    assertEquals(again.length, 1);
  } finally {
    await node.close();
  }
});
