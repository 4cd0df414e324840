/**
 * SearchTx (`docs/FORMAT.md`, section 3): a confirmed transaction as `TxSearch`
 * returns it, with the number, identifier and Merkle root of its block.
 *
 * @module
 */
import { encodeU64, Fields, parseJson } from "./json.ts";
import { encodeSigTx, type SigTx, sigTxFromJson } from "./tx.ts";

/** A confirmed transaction and where it was confirmed. */
export interface SearchTx extends SigTx {
  /** The number of the block holding the transaction. */
  readonly blockNumber: bigint;
  /** The identifier of that block, 64 lowercase hex. */
  readonly blockHash: string;
  /** The Merkle root of that block, 64 lowercase hex. */
  readonly merkleRoot: string;
}

/**
 * Canonical JSON of a SearchTx: the SigTx fields, then `blockNumber`,
 * `blockHash` and `merkleRoot`.
 *
 * @example
 * ```ts
 * import { decodeSearchTx, encodeSearchTx } from "./search_tx.ts";
 * const text =
 *   '{"from":"a","to":"b","value":1,"nonce":1,"time":"2024-01-01T00:00:00Z","sig":"",' +
 *   `"blockNumber":1,"blockHash":"${"0".repeat(64)}","merkleRoot":"${"1".repeat(64)}"}`;
 * encodeSearchTx(decodeSearchTx(text)) === text; // true
 * ```
 */
export function encodeSearchTx(tx: SearchTx): string {
  return `${encodeSigTx(tx).slice(0, -1)},"blockNumber":${
    encodeU64(tx.blockNumber)
  },"blockHash":"${tx.blockHash}","merkleRoot":"${tx.merkleRoot}"}`;
}

/**
 * Decodes a SearchTx from JSON text or bytes; throws a `DecodeError` naming
 * the missing or malformed field.
 */
export function decodeSearchTx(
  input: string | Uint8Array,
  path = "tx",
): SearchTx {
  const v = parseJson(input, path);
  const f = new Fields(v, path);
  return {
    ...sigTxFromJson(v, path),
    blockNumber: f.u64("blockNumber"),
    blockHash: f.hash("blockHash"),
    merkleRoot: f.hash("merkleRoot"),
  };
}
