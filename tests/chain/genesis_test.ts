/**
 * The genesis (FORMAT.md section 2): field order, round trips, hash, digest,
 * signatures and balances.
 */
import { assert, assertEquals, assertThrows } from "../assert.ts";
import { keccak256, keccak256Hex } from "../../src/chain/crypto.ts";
import {
  decodeSigGenesis,
  encodeGenesis,
  encodeSigGenesis,
  genesisDigest,
  genesisHash,
  verifyGenesis,
} from "../../src/chain/genesis.ts";
import { DecodeError, toBase64, U64_MAX } from "../../src/chain/json.ts";
import { alice, authority, bob, enc, makeGenesis, mallory } from "./samples.ts";

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
