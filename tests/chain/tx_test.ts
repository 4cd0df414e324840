/**
 * Transactions, genesis, blocks, private keys and events (FORMAT.md sections
 * 2 and 3): field order, round trips, identifiers and signatures.
 */
import { assert, assertEquals, assertThrows } from "../assert.ts";
import { Account, decodePrivateKey } from "../../src/chain/account.ts";
import {
  type Block,
  blockDigest,
  blockHash,
  blockLeaves,
  decodeSigBlock,
  encodeBlock,
  encodeSigBlock,
  type SigBlock,
  verifyBlock,
} from "../../src/chain/block.ts";
import {
  addressOf,
  CURVE_ORDER,
  keccak256,
  keccak256Hex,
  publicKeyOf,
} from "../../src/chain/crypto.ts";
import {
  blockEvent,
  decodeEvent,
  encodeEvent,
  EventType,
  txEvent,
} from "../../src/chain/event.ts";
import {
  decodeSigGenesis,
  encodeGenesis,
  encodeSigGenesis,
  type Genesis,
  genesisDigest,
  genesisHash,
  type SigGenesis,
  verifyGenesis,
} from "../../src/chain/genesis.ts";
import {
  DecodeError,
  parseTime,
  toBase64,
  U64_MAX,
} from "../../src/chain/json.ts";
import { merkleRoot } from "../../src/chain/merkle.ts";
import {
  decodeSigTx,
  encodeSigTx,
  encodeTx,
  type SigTx,
  type Tx,
  txDigest,
  txHash,
  verifyTx,
} from "../../src/chain/tx.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

const alice = new Account(0xa11cen);
const bob = new Account(0xb0bn);
const authority = new Account(0x5eedn);
const mallory = new Account(0xbadn);

const TIME = "2024-05-01T10:00:00.12Z";

const fixedTx: Tx = {
  from: alice.address,
  to: bob.address,
  value: 5n,
  nonce: 1n,
  time: parseTime("2024-05-01T10:00:00.120+00:00"),
};

function makeTx(nonce: bigint, value = 1n, signer = alice): SigTx {
  return signer.signTx({
    from: signer.address,
    to: bob.address,
    value,
    nonce,
    time: parseTime(`2024-05-01T10:00:0${nonce % 10n}Z`),
  });
}

function makeGenesis(signer = authority): SigGenesis {
  const g: Genesis = {
    chain: "blockchain",
    authority: authority.address,
    balances: new Map([[alice.address, 1000n], [bob.address, 0n]]),
    time: parseTime("2024-05-01T09:00:00Z"),
  };
  return signer.signGenesis(g);
}

function makeBlock(
  parent: string,
  txs: SigTx[],
  number = 1n,
  signer = authority,
): SigBlock {
  const b: Block = {
    number,
    parent,
    txs,
    merkleRoot: merkleRoot(txs.map(txHash)),
    time: parseTime("2024-05-01T11:00:00.5+01:00"),
  };
  return signer.signBlock(b);
}

// ----------------------------------------------------------------------- tx

Deno.test("tx: fields in the order from, to, value, nonce, time, sig", () => {
  assertEquals(
    encodeTx(fixedTx),
    `{"from":"${alice.address}","to":"${bob.address}","value":5,"nonce":1,"time":"${TIME}"}`,
  );
  const stx = alice.signTx(fixedTx);
  assertEquals(
    encodeSigTx(stx),
    `{"from":"${alice.address}","to":"${bob.address}","value":5,"nonce":1,"time":"${TIME}","sig":"${
      toBase64(stx.sig)
    }"}`,
  );
  assertEquals(stx.sig.length, 65);
});

Deno.test("tx: decode(encode(x)) is x and encode is idempotent", () => {
  for (
    const tx of [
      alice.signTx(fixedTx),
      makeTx(2n, 0n),
      makeTx(U64_MAX, U64_MAX),
      alice.signTx({ ...fixedTx, to: "any <string> & \u2028 😀 \x01" }),
    ]
  ) {
    const text = encodeSigTx(tx);
    const back = decodeSigTx(text);
    assertEquals(back, tx);
    assertEquals(encodeSigTx(back), text);
    assertEquals(decodeSigTx(enc.encode(text)), tx);
    assertEquals(txHash(back), txHash(tx));
  }
});

Deno.test("tx: hash is keccak of the canonical SigTx; digest of the Tx", () => {
  const stx = alice.signTx(fixedTx);
  assertEquals(txHash(stx), keccak256Hex(encodeSigTx(stx)));
  assertEquals(txDigest(stx), keccak256(encodeTx(stx)));
  assertEquals(txDigest(stx), txDigest(fixedTx));
  // The identifier covers the signature; the digest does not.
  assert(txHash(stx) !== keccak256Hex(encodeTx(stx)));
});

Deno.test("tx: a non-canonical input hashes as its canonical form", () => {
  const stx = alice.signTx(fixedTx);
  const canonical = encodeSigTx(stx);
  const messy =
    `{ "sig" : "${
      toBase64(stx.sig)
    }",\n  "time": "2024-05-01T10:00:00.120+00:00",` +
    ` "nonce": 1, "value" :5, "to":"${bob.address}", "from":"${alice.address}",` +
    ` "unknown": {"x": [1, 2]} }\n`;
  const back = decodeSigTx(messy);
  assertEquals(encodeSigTx(back), canonical);
  assertEquals(txHash(back), keccak256Hex(canonical));
  assert(txHash(back) !== keccak256Hex(messy));
  assert(verifyTx(back));
  // The same instant in another offset is a different canonical text.
  const shifted = decodeSigTx(
    canonical.replace(TIME, "2024-05-01T12:00:00.12+02:00"),
  );
  assert(txHash(shifted) !== txHash(back));
  assert(!verifyTx(shifted));
});

Deno.test("tx: signature verification", () => {
  const stx = alice.signTx(fixedTx);
  assert(verifyTx(stx));
  // Signed by someone else than `from`.
  assert(!verifyTx({ ...mallory.signTx(fixedTx) }));
  assert(!verifyTx({ ...stx, sig: mallory.signTx(fixedTx).sig }));
  // Any changed field breaks it.
  assert(!verifyTx({ ...stx, value: 6n }));
  assert(!verifyTx({ ...stx, nonce: 2n }));
  assert(!verifyTx({ ...stx, to: alice.address }));
  assert(!verifyTx({ ...stx, time: parseTime("2024-05-01T10:00:00.121Z") }));
  // A malformed signature is a false, not a throw.
  assert(!verifyTx({ ...stx, sig: new Uint8Array(64) }));
  assert(!verifyTx({ ...stx, sig: new Uint8Array(65) }));
});

Deno.test("tx: decode errors name the field", () => {
  const text = encodeSigTx(alice.signTx(fixedTx));
  assertThrows(
    () => decodeSigTx(text.replace(`"to":"${bob.address}",`, "")),
    DecodeError,
    "tx.to: missing",
  );
  assertThrows(
    () => decodeSigTx(text.replace('"value":5', '"value":-5')),
    DecodeError,
    "tx.value: expected an unsigned 64-bit integer",
  );
  assertThrows(() => decodeSigTx("[]"), DecodeError, "tx: expected an object");
  // The caller chooses the path prefix.
  assertThrows(
    () => decodeSigTx(text.replace('"nonce":1', '"nonce":1e0'), "relay"),
    DecodeError,
    "relay.nonce: expected an unsigned 64-bit integer",
  );
});

// ------------------------------------------------------------------ genesis

Deno.test("genesis: fields in the order chain, authority, balances, time, sig", () => {
  const g = makeGenesis();
  // Balances sorted by key (hex addresses: byte order is string order).
  const bal = alice.address < bob.address
    ? `"${alice.address}":1000,"${bob.address}":0`
    : `"${bob.address}":0,"${alice.address}":1000`;
  const unsigned =
    `{"chain":"blockchain","authority":"${authority.address}","balances":{${bal}},"time":"2024-05-01T09:00:00Z"}`;
  assertEquals(encodeGenesis(g), unsigned);
  assertEquals(
    encodeSigGenesis(g),
    unsigned.slice(0, -1) + `,"sig":"${toBase64(g.sig)}"}`,
  );
});

Deno.test("genesis: round trip, hash and digest", () => {
  const g = makeGenesis();
  const text = encodeSigGenesis(g);
  const back = decodeSigGenesis(text);
  assertEquals(back, g);
  assertEquals(encodeSigGenesis(back), text);
  assertEquals(decodeSigGenesis(enc.encode(text)), g);
  assertEquals(genesisHash(g), keccak256Hex(text));
  assertEquals(genesisDigest(g), keccak256(encodeGenesis(g)));
  // Non-canonical input: spaces, +00:00, keys out of order.
  const messy =
    `{"sig":"${toBase64(g.sig)}", "time":"2024-05-01T09:00:00+00:00",` +
    ` "balances": {"${bob.address}": 0, "${alice.address}": 1000},` +
    ` "authority": "${authority.address}", "chain": "blockchain"}`;
  const m = decodeSigGenesis(messy);
  assertEquals(encodeSigGenesis(m), text);
  assertEquals(genesisHash(m), genesisHash(g));
});

Deno.test("genesis: signature verification", () => {
  assert(verifyGenesis(makeGenesis()));
  // Signed by someone other than its authority.
  assert(!verifyGenesis(makeGenesis(mallory)));
  const g = makeGenesis();
  assert(
    !verifyGenesis({ ...g, balances: new Map([[alice.address, 1001n]]) }),
  );
  assert(!verifyGenesis({ ...g, chain: "other" }));
  assert(!verifyGenesis({ ...g, authority: mallory.address }));
});

Deno.test("genesis: bad balances rejected naming the field", () => {
  const text = encodeSigGenesis(makeGenesis());
  assertThrows(
    () => decodeSigGenesis(text.replace(":1000", ":-1")),
    DecodeError,
    `genesis.balances.${alice.address}: expected an unsigned 64-bit integer`,
  );
  assertThrows(
    () =>
      decodeSigGenesis(
        text.replace(":1000", `:${U64_MAX}`).replace(":0", ":1"),
      ),
    DecodeError,
    "genesis.balances: total exceeds a u64",
  );
  assertEquals(
    decodeSigGenesis(text.replace(":1000", `:${U64_MAX}`)).balances.get(
      alice.address,
    ),
    U64_MAX,
  );
  assertThrows(
    () => decodeSigGenesis(text.replace('"chain":"blockchain",', "")),
    DecodeError,
    "genesis.chain: missing",
  );
  assertThrows(
    () =>
      decodeSigGenesis(text.replace(/"balances":\{[^}]*\}/, '"balances":[]')),
    DecodeError,
    "genesis.balances: expected an object",
  );
});

// -------------------------------------------------------------------- block

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

// -------------------------------------------------------------- private key

Deno.test("private key: written as curve, x, y, d; round trip", () => {
  const d = 0xa11cen;
  const { x, y } = publicKeyOf(d);
  const text = alice.encodePrivateKey();
  assertEquals(text, `{"curve":"P-256k1","x":${x},"y":${y},"d":${d}}`);
  const back = decodePrivateKey(text);
  assertEquals(back.address, alice.address);
  assertEquals(back.encodePrivateKey(), text);
  assertEquals(decodePrivateKey(enc.encode(text)).address, alice.address);
  // A fresh account round-trips too, and its address is addressOf(pub).
  const fresh = Account.create();
  assertEquals(fresh.address, addressOf(fresh.publicKey));
  assertEquals(
    decodePrivateKey(fresh.encodePrivateKey()).address,
    fresh.address,
  );
  // The largest scalar.
  const top = new Account(CURVE_ORDER - 1n);
  assertEquals(decodePrivateKey(top.encodePrivateKey()).address, top.address);
});

Deno.test("private key: read with fields in another order", () => {
  const d = 0xa11cen;
  const { x, y } = publicKeyOf(d);
  for (
    const text of [
      `{"d":${d},"y":${y},"x":${x},"curve":"P-256k1"}`,
      ` { "y" : ${y} , "curve" : "P-256k1" , "d" : ${d} , "x" : ${x} } `,
      `{"x":${x},"d":${d},"curve":"P-256k1","y":${y},"extra":true}`,
    ]
  ) {
    const acc = decodePrivateKey(text);
    assertEquals(acc.address, alice.address);
    assertEquals(acc.encodePrivateKey(), alice.encodePrivateKey());
    // It signs like the original.
    assertEquals(acc.signTx(fixedTx).sig, alice.signTx(fixedTx).sig);
  }
});

Deno.test("private key: mismatched or malformed keys rejected", () => {
  const d = 0xa11cen;
  const { x, y } = publicKeyOf(d);
  const bad: [string, string][] = [
    [`{"curve":"P-256k1","x":${x + 1n},"y":${y},"d":${d}}`, "does not match"],
    [
      `{"curve":"P-256k1","x":${x},"y":${negateY(y)},"d":${d}}`,
      "does not match",
    ],
    [`{"curve":"P-256k1","x":${y},"y":${x},"d":${d}}`, "does not match"],
    [
      `{"curve":"P-256k1","x":${x},"y":${y},"d":${d + 1n}}`,
      "does not match",
    ],
    [`{"curve":"P-256","x":${x},"y":${y},"d":${d}}`, "key.curve"],
    [`{"x":${x},"y":${y},"d":${d}}`, "key.curve: missing"],
    [`{"curve":"P-256k1","x":${x},"y":${y}}`, "key.d: missing"],
    [`{"curve":"P-256k1","y":${y},"d":${d}}`, "key.x: missing"],
    [
      `{"curve":"P-256k1","x":${x},"y":${y},"d":0}`,
      "key.d: private key out of range",
    ],
    [
      `{"curve":"P-256k1","x":${x},"y":${y},"d":${CURVE_ORDER}}`,
      "key.d: private key out of range",
    ],
    [`{"curve":"P-256k1","x":${x},"y":${y},"d":-${d}}`, "key.d"],
    [`{"curve":"P-256k1","x":${x},"y":${y},"d":0${d}}`, "key.d"],
    [`{"curve":"P-256k1","x":${x},"y":${y},"d":${d}.0}`, "key.d"],
    [`{"curve":"P-256k1","x":${x},"y":${y},"d":"${d}"}`, "key.d"],
    [`{"curve":"P-256k1","x":"${x}","y":${y},"d":${d}}`, "key.x"],
  ];
  for (const [text, msg] of bad) {
    assertThrows(() => decodePrivateKey(text), DecodeError, msg);
  }
});

function negateY(y: bigint): bigint {
  // The other point with the same x: (x, p - y).
  return 2n ** 256n - 2n ** 32n - 977n - y;
}

// ------------------------------------------------------------------- events

Deno.test("event: encode and decode", () => {
  const stx = alice.signTx(fixedTx);
  const te = txEvent(stx);
  assertEquals(te.type, EventType.Tx);
  assertEquals(te.action, "validated");
  assertEquals(dec.decode(te.body), encodeSigTx(stx));
  const text = encodeEvent(te);
  assertEquals(
    text,
    `{"type":1,"action":"validated","body":"${
      toBase64(enc.encode(encodeSigTx(stx)))
    }"}`,
  );
  assertEquals(decodeEvent(text), te);
  assertEquals(decodeSigTx(decodeEvent(text).body), stx);

  const b = makeBlock(genesisHash(makeGenesis()), [stx]);
  const be = blockEvent(b);
  assertEquals(be.type, EventType.Block);
  assertEquals(
    encodeEvent(be),
    `{"type":2,"action":"validated","body":"${
      toBase64(enc.encode(encodeSigBlock(b)))
    }"}`,
  );
  assertEquals(decodeSigBlock(decodeEvent(encodeEvent(be)).body), b);
  // An action with HTML characters is escaped like every string.
  assertEquals(
    encodeEvent({ type: 0, action: "<x>", body: new Uint8Array([1]) }),
    '{"type":0,"action":"\\u003cx\\u003e","body":"AQ=="}',
  );
});

Deno.test("event: bad events rejected", () => {
  assertThrows(
    () => decodeEvent('{"type":3,"action":"validated","body":""}'),
    DecodeError,
    "event.type",
  );
  assertThrows(
    () => decodeEvent('{"type":-1,"action":"validated","body":""}'),
    DecodeError,
    "event.type",
  );
  assertThrows(
    () => decodeEvent('{"type":1,"action":"validated","body":"A"}'),
    DecodeError,
    "event.body",
  );
  assertThrows(
    () => decodeEvent('{"type":1,"body":""}'),
    DecodeError,
    "event.action: missing",
  );
});
