import { assert, assertEquals, assertThrows } from "../assert.ts";
import { Account } from "../../src/chain/account.ts";
import {
  type Checkpoint,
  checkpointDigest,
  checkpointHash,
  decodeSigCheckpoint,
  encodeCheckpoint,
  encodeSigCheckpoint,
  verifyCheckpoint,
} from "../../src/chain/checkpoint.ts";
import { keccak256Hex } from "../../src/chain/crypto.ts";
import { DecodeError, toHex } from "../../src/chain/json.ts";

const H1 = "1".repeat(64);
const H2 = "2".repeat(64);
const H3 = "3".repeat(64);

const RECORD: Checkpoint = {
  chain: "chain<1>",
  genesis: H1,
  interval: 1000n,
  number: 3000n,
  block: H2,
  state: H3,
  accounts: 26n,
};

Deno.test("checkpoint: canonical JSON, fields in order", () => {
  assertEquals(
    encodeCheckpoint(RECORD),
    `{"chain":"chain\\u003c1\\u003e","genesis":"${H1}","interval":1000,` +
      `"number":3000,"block":"${H2}","state":"${H3}","accounts":26}`,
  );
  assertEquals(
    toHex(checkpointDigest(RECORD)),
    keccak256Hex(encodeCheckpoint(RECORD)),
  );
});

Deno.test("checkpoint: signed by the authority, round-trips, verifies", () => {
  const auth = Account.create();
  const c = auth.signCheckpoint(RECORD);
  assert(verifyCheckpoint(c, auth.address));
  assert(!verifyCheckpoint(c, Account.create().address));
  const line = encodeSigCheckpoint(c);
  const back = decodeSigCheckpoint(line);
  assertEquals(encodeSigCheckpoint(back), line);
  assertEquals(checkpointHash(back), keccak256Hex(line));
  assert(verifyCheckpoint(back, auth.address));
  // Any field changed breaks the signature.
  for (
    const changed of [
      { ...back, chain: "other" },
      { ...back, number: 4000n },
      { ...back, block: H3 },
      { ...back, state: H2 },
      { ...back, accounts: 27n },
      { ...back, genesis: H2 },
      { ...back, interval: 500n },
    ]
  ) {
    assert(!verifyCheckpoint(changed, auth.address));
  }
});

Deno.test("checkpoint: decoding refuses a wrong record, naming the field", () => {
  const auth = Account.create();
  const line = encodeSigCheckpoint(auth.signCheckpoint(RECORD));
  assertThrows(
    () => decodeSigCheckpoint(line.replace('"number":3000', '"number":3001')),
    DecodeError,
    "checkpoint.number: expected a positive multiple of the interval 1000",
  );
  assertThrows(
    () => decodeSigCheckpoint(line.replace('"interval":1000', '"interval":0')),
    DecodeError,
    "checkpoint.interval",
  );
  assertThrows(
    () => decodeSigCheckpoint(line.replace(`"block":"${H2}"`, '"block":"ab"')),
    DecodeError,
    "checkpoint.block: expected a hash",
  );
  assertThrows(
    () => decodeSigCheckpoint(line.replace(/,"sig":"[^"]*"/, "")),
    DecodeError,
    "checkpoint.sig: missing",
  );
});
