/**
 * The explorer page's pure code (`src/explorer/assets/lib.js`) checked
 * against bcn's own chain code: the same hashes, block and transaction
 * hashes from their text, the signer of a block, the Merkle rules of
 * `tx verify`, and how the search box and the stream framing read input.
 */
import { shake256 } from "@noble/hashes/sha3.js";
import { assert, assertEquals, assertThrows } from "../assert.ts";
import { makeChain } from "../fixtures.ts";
import { keccak256Hex } from "../../src/chain/crypto.ts";
import { toHex } from "../../src/chain/json.ts";
import { blockHash, encodeSigBlock } from "../../src/chain/block.ts";
import { txHash } from "../../src/chain/tx.ts";
import { encodeSearchTx } from "../../src/chain/search_tx.ts";
import {
  encodeMerkleProof,
  merkleProve,
  merkleRoot,
  type MerkleStep,
  merkleVerify as chainVerify,
} from "../../src/chain/merkle.ts";
import { Account } from "../../src/chain/account.ts";
import {
  connectError,
  decodeMerkleProof,
  encodeEnvelope,
  EnvelopeReader,
  keccak256Hex as pageKeccak,
  merkleVerify,
  parseJson,
  parseSearch,
  readBlock,
  readSearchTx,
  recoverAddress,
  shake256Hex,
  SPANS,
} from "../../src/explorer/assets/lib.js";

Deno.test("the page's Keccak-256 and SHAKE256 match bcn's at every length", () => {
  // Across the 136-byte rate: empty, one short of a block, one, two.
  for (const n of [0, 1, 31, 135, 136, 137, 271, 272, 273, 1000]) {
    const data = new Uint8Array(n).map((_, i) => (i * 7 + n) & 0xff);
    assertEquals(pageKeccak(data), keccak256Hex(data), `keccak, ${n} bytes`);
    assertEquals(
      shake256Hex(data),
      toHex(shake256(data, { dkLen: 32 })),
      `shake, ${n} bytes`,
    );
  }
  assertEquals(pageKeccak("é<"), keccak256Hex("é<"));
});

Deno.test("parseJson keeps u64 text, spans and escapes; refuses bad text", () => {
  const text = '{"a":[18446744073709551615, {"b":"x\\u003cy\\n"}],"c":true}';
  const v = parseJson(text) as Record<string, unknown>;
  const a = v.a as unknown[] & { [SPANS]: [number, number][] };
  assertEquals(a[0], "18446744073709551615");
  assertEquals((a[1] as Record<string, string>).b, "x<y\n");
  assertEquals(text.slice(...a[SPANS][1]), '{"b":"x\\u003cy\\n"}');
  assertEquals(v.c, true);
  for (const bad of ['{"a":1', "[1,]", '"\\x"', "1 2", "[".repeat(100)]) {
    assertThrows(() => parseJson(bad), Error, "bad JSON");
  }
});

Deno.test("readBlock gives bcn's block hash, tx hashes and signer", () => {
  const chain = makeChain(2, 3, { chain: "<script>x</script>" });
  for (const block of chain.blocks) {
    const read = readBlock(encodeSigBlock(block));
    assertEquals(read.hash, blockHash(block));
    assertEquals(read.number, String(block.number));
    assertEquals(
      read.txs.map((t: { hash: string }) => t.hash),
      block.txs.map(txHash),
    );
    assertEquals(read.txs[0].value, String(block.txs[0].value));
    assertEquals(
      recoverAddress(
        read.digest,
        Uint8Array.from(atob(read.sig), (c) => c.charCodeAt(0)),
      ),
      chain.authority.address,
    );
  }
  // A transaction to a name holding markup and escapes hashes the same.
  const owner = Account.create();
  const tx = owner.signTx({
    from: owner.address,
    to: '<script>alert("x")</script>&\u2028',
    value: 18446744073709551615n,
    nonce: 1n,
    time: chain.blocks[0].time,
  });
  const found = encodeSearchTx({
    ...tx,
    blockNumber: 7n,
    blockHash: "a".repeat(64),
    merkleRoot: "b".repeat(64),
  });
  const read = readSearchTx(found);
  assertEquals(read.hash, txHash(tx));
  assertEquals(read.to, tx.to);
  assertEquals(read.value, "18446744073709551615");
  assertEquals(read.blockNumber, "7");
});

Deno.test("recoverAddress refuses malformed signatures", () => {
  const digest = new Uint8Array(32);
  assertThrows(() => recoverAddress(digest, new Uint8Array(64)), Error, "65");
  assertThrows(() => recoverAddress(digest, new Uint8Array(65)), Error);
});

Deno.test("merkleVerify agrees with bcn's for every leaf, and for tampering", () => {
  for (const count of [1, 2, 3, 5, 8, 9]) {
    const leaves = Array.from(
      { length: count },
      (_, i) => keccak256Hex(`leaf${i}`),
    );
    const root = merkleRoot(leaves);
    for (let i = 0; i < count; i++) {
      const proof = merkleProve(leaves, i);
      const read = decodeMerkleProof(encodeMerkleProof(proof)) as MerkleStep[];
      assertEquals(read, proof);
      assertEquals(merkleVerify(leaves[i], read, root), true);
      assertEquals(merkleVerify(leaves[i], read, keccak256Hex("x")), false);
      // One changed character in any step's hash: as bcn decides.
      for (let k = 0; k < read.length; k++) {
        const tampered = read.map((s: MerkleStep, j: number) =>
          j === k
            ? { ...s, hash: (s.hash[0] === "0" ? "1" : "0") + s.hash.slice(1) }
            : s
        );
        const page = merkleVerify(leaves[i], tampered, root);
        assertEquals(page, chainVerify(leaves[i], tampered, root));
        if (count > 1) assertEquals(page, false);
      }
    }
  }
  assertThrows(
    () => decodeMerkleProof('[{"hash":"ab","pos":1}]'),
    Error,
    "proof[0].hash",
  );
  assertThrows(
    () => decodeMerkleProof(`[{"hash":"${"a".repeat(64)}","pos":3}]`),
    Error,
    "proof[0].pos",
  );
  assertThrows(() => decodeMerkleProof("{}"), Error, "expected an array");
});

Deno.test("parseSearch reads numbers, hex (0x forces hex), and says what is wrong", () => {
  assertEquals(parseSearch(" 42 "), { kind: "block", number: "42" });
  assertEquals(parseSearch("0x42"), { kind: "hex", hex: "42", full: false });
  assertEquals(parseSearch("ABcd"), { kind: "hex", hex: "abcd", full: false });
  assertEquals(parseSearch("f".repeat(64)), {
    kind: "hex",
    hex: "f".repeat(64),
    full: true,
  });
  assertEquals(parseSearch("18446744073709551615").kind, "block");
  for (
    const bad of [
      "",
      "0",
      "18446744073709551616",
      "1".repeat(30),
      "g1",
      "a".repeat(65),
      "0x",
    ]
  ) {
    assertEquals(parseSearch(bad).kind, "error", JSON.stringify(bad));
  }
});

Deno.test("EnvelopeReader splits a stream at any chunking, and bounds a message", () => {
  const a = encodeEnvelope(0, '{"Block":"AA=="}');
  const b = encodeEnvelope(2, "{}");
  const all = new Uint8Array([...a, ...b]);
  for (let cut = 0; cut <= all.length; cut++) {
    const r = new EnvelopeReader();
    const got = [...r.push(all.slice(0, cut)), ...r.push(all.slice(cut))];
    assertEquals(got.map((m) => [m.flags, new TextDecoder().decode(m.data)]), [
      [0, '{"Block":"AA=="}'],
      [2, "{}"],
    ]);
    assertEquals(r.pending, 0);
  }
  const huge = new Uint8Array([0, 0xff, 0xff, 0xff, 0xff]);
  assertThrows(() => new EnvelopeReader().push(huge), Error, "too large");
  assertEquals(
    connectError('{"error":{"code":"not_found","message":"no block"}}'),
    "not_found: no block",
  );
  assertEquals(connectError("{}"), undefined);
  assert(connectError("not json") === undefined);
});
