import { assert, assertEquals, assertThrows } from "../assert.ts";
import { blockHash } from "../../src/chain/block.ts";
import { DecodeError } from "../../src/chain/json.ts";
import {
  decodeSearchTx,
  encodeSearchTx,
  type SearchTx,
} from "../../src/chain/search_tx.ts";
import { encodeSigTx } from "../../src/chain/tx.ts";
import { makeChain } from "../fixtures.ts";

const CHAIN = makeChain(2, 3);

Deno.test("a SearchTx is the transaction's JSON, then its block's fields", () => {
  const b = CHAIN.blocks[1];
  const st: SearchTx = {
    ...b.txs[2],
    blockNumber: b.number,
    blockHash: blockHash(b),
    merkleRoot: b.merkleRoot,
  };
  const json = encodeSearchTx(st);
  assert(json.startsWith(encodeSigTx(st).slice(0, -1) + ',"blockNumber":2,'));
  assert(json.endsWith(`"merkleRoot":"${b.merkleRoot}"}`));
  assertEquals(encodeSearchTx(decodeSearchTx(json)), json);
  assertThrows(
    () => decodeSearchTx(encodeSigTx(b.txs[0])),
    DecodeError,
    "tx.blockNumber: missing",
  );
});
