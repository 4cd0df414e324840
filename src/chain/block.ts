/**
 * Blocks (FORMAT.md section 3): numbered, chained batches of transactions
 * signed by the authority.
 *
 * @module
 */
import { keccak256, keccak256Hex, verifySignature } from "./crypto.ts";
import {
  DecodeError,
  encodeBytes,
  encodeU64,
  Fields,
  type JsonValue,
  parseJson,
} from "./json.ts";
import { asTime, formatTime, type Time } from "./time.ts";
import { encodeSigTx, type SigTx, sigTxFromJson, txHash } from "./tx.ts";

/** A block of transactions following `parent`. */
export interface Block {
  /** 1 for the first block, rising by one. */
  readonly number: bigint;
  /** The identifier of the previous block, or of the genesis for block 1. */
  readonly parent: string;
  /** The transactions in order; never empty. */
  readonly txs: readonly SigTx[];
  /** The Merkle root of the transaction hashes. */
  readonly merkleRoot: string;
  /** When the block was made. */
  readonly time: Time;
}

/** A block signed by the authority. */
export interface SigBlock extends Block {
  /** r || s || v over {@link blockDigest}. */
  readonly sig: Uint8Array;
}

function blockFields(b: Block): string {
  return `"number":${encodeU64(b.number)},"parent":"${b.parent}","txs":[${
    b.txs.map(encodeSigTx).join(",")
  }],"merkleRoot":"${b.merkleRoot}","time":"${formatTime(b.time)}"`;
}

/** Canonical JSON of an unsigned block. */
export function encodeBlock(b: Block): string {
  return `{${blockFields(b)}}`;
}

/** Canonical JSON of a signed block: one line of `block.store`. */
export function encodeSigBlock(b: SigBlock): string {
  return `{${blockFields(b)},"sig":${encodeBytes(b.sig)}}`;
}

/** Decodes a signed block from a parsed JSON value found at `path`. */
export function sigBlockFromJson(v: JsonValue, path = "block"): SigBlock {
  const f = new Fields(v, path);
  const txs = f.array("txs").map((t, i) =>
    sigTxFromJson(t, `${f.at("txs")}[${i}]`)
  );
  if (txs.length === 0) throw new DecodeError(f.at("txs"), "no transactions");
  return {
    number: f.u64("number"),
    parent: f.hash("parent"),
    txs,
    merkleRoot: f.hash("merkleRoot"),
    time: asTime(f.raw("time"), f.at("time")),
    sig: f.bytes("sig"),
  };
}

/** Decodes a signed block from JSON text or bytes. */
export function decodeSigBlock(
  input: string | Uint8Array,
  path = "block",
): SigBlock {
  return sigBlockFromJson(parseJson(input, path), path);
}

/** The digest the authority signs: Keccak-256 of the canonical Block. */
export function blockDigest(b: Block): Uint8Array {
  return keccak256(encodeBlock(b));
}

const hashCache = new WeakMap<SigBlock, string>();

/** A block's identifier: Keccak-256 of its canonical SigBlock. */
export function blockHash(b: SigBlock): string {
  let h = hashCache.get(b);
  if (h === undefined) {
    h = keccak256Hex(encodeSigBlock(b));
    hashCache.set(b, h);
  }
  return h;
}

/** The transaction hashes of a block, its Merkle leaves. */
export function blockLeaves(b: Block): string[] {
  return b.txs.map(txHash);
}

/** Whether the block is signed by `authority`. */
export function verifyBlock(b: SigBlock, authority: string): boolean {
  return verifySignature(blockDigest(b), b.sig, authority);
}
