import { assert, assertEquals, assertThrows } from "../assert.ts";
import { Account } from "../../src/chain/account.ts";
import { keccak256Hex } from "../../src/chain/crypto.ts";
import { DecodeError } from "../../src/chain/json.ts";
import { newGenesis } from "../../src/chain/genesis.ts";
import { State } from "../../src/chain/state.ts";
import {
  chunkAccounts,
  decodeStateChunk,
  encodeStateChunk,
  STATE_CHUNK_ACCOUNTS,
  STATE_CHUNK_BYTES,
  stateAccounts,
  stateChunks,
  stateHash,
  StateHasher,
} from "../../src/chain/state_hash.ts";

// The test vector: byte order of UTF-8 addresses, canonical strings (the
// HTML and line-separator escapes), the whole u64 range, a missing nonce.
const VECTOR = {
  balances: new Map<string, bigint>([
    ["b", 5n],
    ["a", 18446744073709551615n],
    ["é", 0n],
    ["Z\u2028<", 7n],
  ]),
  nonces: new Map<string, bigint>([["a", 2n], ["b", 1n]]),
};
const VECTOR_CHUNK =
  '[["Z\\u2028\\u003c",7,0],["a",18446744073709551615,2],["b",5,1],["é",0,0]]';
const VECTOR_HASH =
  "6607b76132d4768ebc2fa395a335342d9a799f4318074de75f4419e8fa7da947";

Deno.test("state hash: the test vector", () => {
  assertEquals([...stateChunks(VECTOR)], [VECTOR_CHUNK]);
  const doc = `{"accounts":4,"chunks":["${keccak256Hex(VECTOR_CHUNK)}"]}`;
  assertEquals(keccak256Hex(doc), VECTOR_HASH);
  assertEquals(stateHash(VECTOR), { hash: VECTOR_HASH, accounts: 4 });
});

Deno.test("state hash: chunks of 1000 accounts, the last shorter", () => {
  const balances = new Map<string, bigint>();
  for (let i = 0; i < 2500; i++) {
    balances.set(`acc${String(i).padStart(5, "0")}`, BigInt(i));
  }
  const state = { balances, nonces: new Map<string, bigint>() };
  const chunks = [...stateChunks(state)];
  assertEquals(chunks.map((c) => decodeStateChunk(c).length), [
    STATE_CHUNK_ACCOUNTS,
    STATE_CHUNK_ACCOUNTS,
    500,
  ]);
  const doc = `{"accounts":2500,"chunks":[${
    chunks.map((c) => `"${keccak256Hex(c)}"`).join(",")
  }]}`;
  assertEquals(stateHash(state).hash, keccak256Hex(doc));
  assertEquals(
    stateHash(state).hash,
    "7eb58a1fff8e8f00d4c0a20e1e5dbd903cd2b5e154ccbfaa19061c5eb1146946",
  );
});

Deno.test("state hash: a change of any balance or nonce changes it", () => {
  const base = stateHash(VECTOR).hash;
  const balances = new Map(VECTOR.balances).set("b", 6n);
  assert(stateHash({ ...VECTOR, balances }).hash !== base);
  const nonces = new Map(VECTOR.nonces).set("b", 2n);
  assert(stateHash({ ...VECTOR, nonces }).hash !== base);
  const more = new Map(VECTOR.balances).set("c", 0n);
  assert(stateHash({ ...VECTOR, balances: more }).hash !== base);
});

Deno.test("state hash: a State's confirmed accounts, genesis and blocks", () => {
  const auth = Account.create();
  const owner = Account.create();
  const genesis = auth.signGenesis(
    newGenesis("t", {
      authority: auth.address,
      balances: [[owner.address, 100n]],
    }),
  );
  const state = new State(genesis);
  assertEquals(
    stateHash(state.confirmed()).hash,
    keccak256Hex(
      `{"accounts":1,"chunks":["${
        keccak256Hex(`[["${owner.address}",100,0]]`)
      }"]}`,
    ),
  );
  assertEquals(stateAccounts(state.confirmed()), [
    { address: owner.address, balance: 100n, nonce: 0n },
  ]);
});

Deno.test("state hasher: refuses chunks that are not a canonical state", () => {
  const a = (address: string) => ({ address, balance: 1n, nonce: 0n });
  assertThrows(() => new StateHasher().add([]), Error, "empty state chunk");
  assertThrows(
    () => new StateHasher().add([a("b"), a("a")]),
    Error,
    "out of order",
  );
  assertThrows(
    () => new StateHasher().add([a("a"), a("a")]),
    Error,
    "out of order",
  );
  const h = new StateHasher();
  h.add([a("a")]);
  assertThrows(() => h.add([a("b")]), Error, "after a short one");
  const big = Array.from(
    { length: STATE_CHUNK_ACCOUNTS + 1 },
    (_, i) => a(`x${String(i).padStart(5, "0")}`),
  );
  assertThrows(() => new StateHasher().add(big), Error, "more than 1000");
});

Deno.test("state hash: a chunk's text stays within STATE_CHUNK_BYTES, but for one account", () => {
  // Receivers are any strings: a few long ones must not make a chunk
  // too large to travel in one message.
  const long = (c: string, n: number) => c + "x".repeat(n);
  const balances = new Map<string, bigint>([
    [long("a", 300_000), 1n],
    [long("b", 300_000), 1n],
    [long("c", 300_000), 1n],
    [long("d", 300_000), 1n],
    [long("e", 2 * STATE_CHUNK_BYTES), 1n],
    ["f", 1n],
  ]);
  const state = { balances, nonces: new Map<string, bigint>() };
  const chunks = [...stateChunks(state)];
  assertEquals(chunks.map((c) => decodeStateChunk(c).length), [3, 1, 1, 1]);
  for (const c of chunks.slice(0, 2)) {
    assert(new TextEncoder().encode(c).length <= STATE_CHUNK_BYTES);
  }
  const h = new StateHasher();
  for (const c of chunks) h.add(decodeStateChunk(c));
  assertEquals(h.finish(), stateHash(state));
  // Multi-byte text counts in bytes: 400,000 "é" is 800,000 bytes.
  const wide = chunkAccounts([
    { address: "é".repeat(400_000), balance: 0n, nonce: 0n },
    { address: "ê".repeat(400_000), balance: 0n, nonce: 0n },
  ]);
  assertEquals(wide.map((c) => c.length), [1, 1]);
});

Deno.test("state hasher: refuses chunks cut short or past the bytes", () => {
  const a = (address: string) => ({ address, balance: 1n, nonce: 0n });
  const short = new StateHasher();
  short.add([a("a".repeat(600_000))]);
  // The next account would have fitted in 1 MiB: the cut is not canonical.
  assertThrows(() => short.add([a("b")]), Error, "after a short one");
  const fits = new StateHasher();
  fits.add([a("a".repeat(600_000))]);
  fits.add([a("b".repeat(600_000))]);
  assertThrows(
    () =>
      new StateHasher().add([a("a".repeat(600_000)), a("b".repeat(600_000))]),
    Error,
    `more than ${STATE_CHUNK_BYTES}`,
  );
});

Deno.test("state chunk: too many accounts or bytes are refused before parsing", () => {
  // A 16 MiB message of tiny accounts parsed in full took 400 MiB.
  const many = `[${
    Array.from({ length: STATE_CHUNK_ACCOUNTS + 1 }, (_, i) => `["a${i}",0,0]`)
      .join(",")
  }]`;
  assertThrows(
    () => decodeStateChunk(many),
    DecodeError,
    "chunk: more than 1000 accounts in one chunk",
  );
  assertThrows(
    () => decodeStateChunk(new TextEncoder().encode(many)),
    DecodeError,
    "more than 1000 accounts",
  );
  // Commas, brackets and escaped quotes inside an address are not entries.
  const tricky = String.raw`[["a\"],[,,[",1,0],["b\\",2,0]]`;
  assertEquals(
    decodeStateChunk(tricky).map((a) => a.address),
    ['a"],[,,[', "b\\"],
  );
  const wide = `[["${"x".repeat(STATE_CHUNK_BYTES)}",1,0],["y",1,0]]`;
  assertThrows(() => decodeStateChunk(wide), DecodeError, "in 2 accounts");
  const one = `[["${"x".repeat(STATE_CHUNK_BYTES)}",1,0]]`;
  assertEquals(decodeStateChunk(one).length, 1);
});

Deno.test("state hash: the cut is the greedy one by exact bytes, whatever the addresses", () => {
  // The cut works with a cheap bound until near the limit: it must agree
  // with the plain greedy cut by exact bytes.
  const enc = new TextEncoder();
  const size = (a: { address: string; balance: bigint; nonce: bigint }) =>
    enc.encode(encodeStateChunk([a])).length - 2;
  let seed = 7;
  const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
  const accounts = Array.from({ length: 600 }, (_, i) => ({
    address: String(i).padStart(4, "0") +
      (random() < 0.5 ? "é" : "\u2028<").repeat(Math.floor(random() * 9000)),
    balance: BigInt(Math.floor(random() * 1e9)),
    nonce: 0n,
  }));
  const expected: number[] = [];
  let count = 0;
  let bytes = 0;
  for (const a of accounts) {
    const s = size(a);
    if (
      count > 0 &&
      (count >= STATE_CHUNK_ACCOUNTS || bytes + 1 + s > STATE_CHUNK_BYTES)
    ) {
      expected.push(count);
      count = 0;
    }
    bytes = count === 0 ? 2 + s : bytes + 1 + s;
    count++;
  }
  expected.push(count);
  assert(expected.length > 3);
  assertEquals(chunkAccounts(accounts).map((c) => c.length), expected);
});

Deno.test("state chunk: decoding names the bad entry", () => {
  assertThrows(() => decodeStateChunk("{}"), DecodeError, "expected an array");
  assertThrows(
    () => decodeStateChunk('[["a",1]]'),
    DecodeError,
    "chunk[0]: expected [address, balance, nonce]",
  );
  assertThrows(
    () => decodeStateChunk('[["a",-1,0]]'),
    DecodeError,
    "chunk[0][1]",
  );
  assertEquals(decodeStateChunk(VECTOR_CHUNK).length, 4);
});
