/**
 * Events streamed to subscribers: encode and decode.
 */
import { assertEquals, assertThrows } from "../assert.ts";
import { decodeSigBlock, encodeSigBlock } from "../../src/chain/block.ts";
import {
  blockEvent,
  decodeEvent,
  encodeEvent,
  EventType,
  txEvent,
} from "../../src/chain/event.ts";
import { genesisHash } from "../../src/chain/genesis.ts";
import { DecodeError, toBase64 } from "../../src/chain/json.ts";
import { decodeSigTx, encodeSigTx } from "../../src/chain/tx.ts";
import { alice, dec, enc, fixedTx, makeBlock, makeGenesis } from "./samples.ts";

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
