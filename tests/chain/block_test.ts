/**
 * Blocks (FORMAT.md section 2): field order, round trips, hash, digest and
 * the authority's signature.
 */
import { assert, assertEquals, assertThrows } from "../assert.ts";
import {
  blockDigest,
  blockHash,
  blockLeaves,
  decodeSigBlock,
  encodeBlock,
  encodeSigBlock,
  verifyBlock,
} from "../../src/chain/block.ts";
import { keccak256, keccak256Hex } from "../../src/chain/crypto.ts";
import { genesisHash } from "../../src/chain/genesis.ts";
import { DecodeError, toBase64 } from "../../src/chain/json.ts";
import { encodeSigTx, txHash } from "../../src/chain/tx.ts";
import {
  authority,
  enc,
  makeBlock,
  makeGenesis,
  makeTx,
  mallory,
} from "./samples.ts";

Deno.test("block: fields in the order number, parent, txs, merkleRoot, time, sig", () => {
  const g = makeGenesis();
  const txs = [makeTx(1n), makeTx(2n)];
  const b = makeBlock(genesisHash(g), txs);
  const unsigned = `{"number":1,"parent":"${genesisHash(g)}","txs":[${
    txs.map(encodeSigTx).join(",")
  }],"merkleRoot":"${b.merkleRoot}","time":"2024-05-01T11:00:00.5+01:00"}`;
  assertEquals(encodeBlock(b), unsigned);
  assertEquals(
    encodeSigBlock(b),
    unsigned.slice(0, -1) + `,"sig":"${toBase64(b.sig)}"}`,
  );
  assertEquals(blockLeaves(b), txs.map(txHash));
});

Deno.test("block: round trip, hash and digest", () => {
  const g = makeGenesis();
  const b1 = makeBlock(genesisHash(g), [makeTx(1n)]);
  const b2 = makeBlock(blockHash(b1), [makeTx(2n), makeTx(3n), makeTx(4n)], 2n);
  for (const b of [b1, b2]) {
    const text = encodeSigBlock(b);
    const back = decodeSigBlock(text);
    assertEquals(back, b);
    assertEquals(encodeSigBlock(back), text);
    assertEquals(decodeSigBlock(enc.encode(text)), b);
    assertEquals(blockHash(b), keccak256Hex(text));
    assertEquals(blockHash(back), blockHash(b));
    assertEquals(blockDigest(b), keccak256(encodeBlock(b)));
  }
});

Deno.test("block: a non-canonical input hashes as its canonical form", () => {
  const g = makeGenesis();
  const b = makeBlock(genesisHash(g), [makeTx(1n)]);
  const canonical = encodeSigBlock(b);
  const messy = canonical
    .replace(
      `"parent":"${b.parent}"`,
      ` "parent" : "${b.parent.toUpperCase()}" `,
    )
    .replace(
      `"merkleRoot":"${b.merkleRoot}"`,
      `"merkleRoot":"${b.merkleRoot.toUpperCase()}"`,
    )
    .replace(
      `"time":"2024-05-01T11:00:00.5+01:00"`,
      `"time":"2024-05-01T11:00:00.500000+01:00"`,
    )
    .replace('"number":1', '"number":1, "extra":null')
    .replace(
      /"time":"2024-05-01T10:00:01Z"/,
      '"time":"2024-05-01T10:00:01+00:00"',
    );
  assert(messy !== canonical);
  const back = decodeSigBlock(messy);
  assertEquals(back.parent, b.parent);
  assertEquals(encodeSigBlock(back), canonical);
  assertEquals(blockHash(back), keccak256Hex(canonical));
  assert(verifyBlock(back, authority.address));
});

Deno.test("block: signature verification against the authority", () => {
  const g = makeGenesis();
  const b = makeBlock(genesisHash(g), [makeTx(1n)]);
  assert(verifyBlock(b, authority.address));
  assert(!verifyBlock(b, mallory.address));
  assert(
    !verifyBlock(
      makeBlock(genesisHash(g), [makeTx(1n)], 1n, mallory),
      authority.address,
    ),
  );
  assert(!verifyBlock({ ...b, number: 2n }, authority.address));
  assert(!verifyBlock({ ...b, parent: "0".repeat(64) }, authority.address));
  assert(!verifyBlock({ ...b, txs: [makeTx(2n)] }, authority.address));
});

Deno.test("block: empty txs and malformed fields rejected on decode", () => {
  const g = makeGenesis();
  const b = makeBlock(genesisHash(g), [makeTx(1n)]);
  const text = encodeSigBlock(b);
  const empty = text.replace(
    /"txs":\[.*\],"merkleRoot"/,
    '"txs":[],"merkleRoot"',
  );
  assertThrows(
    () => decodeSigBlock(empty),
    DecodeError,
    "block.txs: no transactions",
  );
  assertThrows(
    () => decodeSigBlock(text.replace(b.parent, b.parent.slice(1))),
    DecodeError,
    "block.parent: expected a hash of 64 hex characters",
  );
  assertThrows(
    () => decodeSigBlock(text.replace(b.merkleRoot, b.merkleRoot + "0")),
    DecodeError,
    "block.merkleRoot",
  );
  assertThrows(
    () => decodeSigBlock(text.replace('"number":1', '"number":1.0')),
    DecodeError,
    "block.number: expected an unsigned 64-bit integer",
  );
  assertThrows(
    () => decodeSigBlock(text.replace('"value":1', '"value":"1"')),
    DecodeError,
    "block.txs[0].value: expected an unsigned 64-bit integer",
  );
  assertThrows(
    () =>
      decodeSigBlock(
        text.replace(/"txs":\[/, '"txs":{"a":').replace(
          /\],"merkleRoot"/,
          '},"merkleRoot"',
        ),
      ),
    DecodeError,
    "block.txs: expected an array",
  );
});
