/**
 * Transactions (`docs/FORMAT.md`, section 3): a transfer of value between
 * accounts.
 *
 * @module
 */
import { keccak256, keccak256Hex } from "./crypto.ts";
import { recoverAddress } from "./signer_cache.ts";
import {
  encodeBytes,
  encodeString,
  encodeU64,
  Fields,
  type JsonValue,
  parseJson,
} from "./json.ts";
import { asTime, formatTime, type Time } from "./time.ts";
import { encodeUtf8 } from "../util/utf8.ts";

/** An unsigned transfer of `value` from `from` to `to`. */
export interface Tx {
  /** The sender's address. */
  readonly from: string;
  /** The receiver: any string, usually an address. */
  readonly to: string;
  /** The amount transferred. */
  readonly value: bigint;
  /** The sender's nonce: its previous nonce + 1. */
  readonly nonce: bigint;
  /** When the transaction was made. */
  readonly time: Time;
}

/** A transaction signed by its sender. */
export interface SigTx extends Tx {
  /** r || s || v over {@link txDigest}. */
  readonly sig: Uint8Array;
}

function txFields(tx: Tx): string {
  return `"from":${encodeString(tx.from)},"to":${encodeString(tx.to)},"value":${
    encodeU64(tx.value)
  },"nonce":${encodeU64(tx.nonce)},"time":"${formatTime(tx.time)}"`;
}

/** Canonical JSON of an unsigned transaction. */
export function encodeTx(tx: Tx): string {
  return `{${txFields(tx)}}`;
}

/**
 * Canonical JSON of a signed transaction.
 *
 * @example
 * ```ts
 * import { decodeSigTx, encodeSigTx } from "./tx.ts";
 * const text = encodeSigTx(decodeSigTx('{"from":"a","to":"b","value":1,"nonce":1,"time":"2024-01-01T00:00:00Z","sig":""}'));
 * ```
 */
export function encodeSigTx(tx: SigTx): string {
  return `{${txFields(tx)},"sig":${encodeBytes(tx.sig)}}`;
}

/** Reads the Tx fields of an object. */
export function txFromFields(f: Fields): Tx {
  return {
    from: f.string("from"),
    to: f.string("to"),
    value: f.u64("value"),
    nonce: f.u64("nonce"),
    time: asTime(f.raw("time"), f.at("time")),
  };
}

/** Decodes a SigTx from a parsed JSON value found at `path`. */
export function sigTxFromJson(v: JsonValue, path = "tx"): SigTx {
  const f = new Fields(v, path);
  return { ...txFromFields(f), sig: f.bytes("sig") };
}

/** Decodes a signed transaction from JSON text or bytes. */
export function decodeSigTx(input: string | Uint8Array, path = "tx"): SigTx {
  return sigTxFromJson(parseJson(input, path), path);
}

/** The digest the sender signs: Keccak-256 of the canonical Tx. */
export function txDigest(tx: Tx): Uint8Array {
  return keccak256(encodeTx(tx));
}

const bytesCache = new WeakMap<SigTx, Uint8Array>();

/**
 * The canonical SigTx as UTF-8 bytes, encoded once per transaction and
 * shared by the verification pool, relays and events. Do not modify the
 * array.
 *
 * @example
 * ```ts
 * import { decodeSigTx, txBytes } from "./tx.ts";
 * const tx = decodeSigTx('{"from":"a","to":"b","value":1,"nonce":1,"time":"2024-01-01T00:00:00Z","sig":""}');
 * console.log(txBytes(tx) === txBytes(tx)); // true
 * ```
 */
export function txBytes(tx: SigTx): Uint8Array {
  let bytes = bytesCache.get(tx);
  if (bytes === undefined) {
    bytes = encodeUtf8(encodeSigTx(tx));
    bytesCache.set(tx, bytes);
  }
  return bytes;
}

const hashCache = new WeakMap<SigTx, string>();

/** A signed transaction's identifier: Keccak-256 of its canonical SigTx. */
export function txHash(tx: SigTx): string {
  let h = hashCache.get(tx);
  if (h === undefined) {
    h = keccak256Hex(txBytes(tx));
    hashCache.set(tx, h);
  }
  return h;
}

const signerByTx = new WeakMap<SigTx, string | null>();

/**
 * The address a transaction's signature recovers, or null when the
 * signature is malformed.
 */
export function txSigner(tx: SigTx): string | null {
  let signer = signerByTx.get(tx);
  if (signer === undefined) {
    try {
      signer = recoverAddress(txDigest(tx), tx.sig, tx.from);
    } catch {
      signer = null;
    }
    signerByTx.set(tx, signer);
  }
  return signer;
}

/** What a verification worker worked out for a transaction. */
export interface TxFacts {
  /** {@link txHash} of the transaction. */
  readonly hash: string;
  /** {@link txSigner} of the transaction. */
  readonly signer: string | null;
}

/**
 * Records facts worked out elsewhere (a verification worker, from the same
 * bytes) so {@link txHash} and {@link verifyTx} need not compute them again.
 * Internal to the node's verification pool and ledger, and in no entry of
 * the package: it sets a transaction's signer without recovering it.
 *
 * @example
 * ```ts
 * import { decodeSigTx, primeTx, txHash, txSigner } from "./tx.ts";
 * const tx = decodeSigTx('{"from":"a","to":"b","value":1,"nonce":1,"time":"2024-01-01T00:00:00Z","sig":""}');
 * primeTx(tx, { hash: txHash({ ...tx }), signer: txSigner({ ...tx }) });
 * ```
 */
export function primeTx(tx: SigTx, facts: TxFacts): void {
  hashCache.set(tx, facts.hash);
  signerByTx.set(tx, facts.signer);
}

/** Whether the transaction's signature recovers its `from` address. */
export function verifyTx(tx: SigTx): boolean {
  return txSigner(tx) === tx.from;
}
