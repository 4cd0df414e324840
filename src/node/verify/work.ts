/**
 * What a verification worker does, as plain functions: the messages between
 * the pool and its workers, and the work itself (decode blocks and
 * transactions, work out their hashes, Merkle roots and recovered signers).
 * The worker (`worker.ts`) runs it on its thread; the pool runs it
 * on the main thread when a worker cannot start (a program without read
 * access to the worker's module), so verification never stops.
 *
 * @module
 */
import { Account } from "../../chain/account.ts";
import {
  blockBytes,
  type BlockFacts,
  blockFacts,
  blockHash,
  blockRoot,
  blockSigner,
  decodeSigBlock,
  type SigBlock,
} from "../../chain/block.ts";
import { recover } from "../../chain/crypto.ts";
import { recoverAddress } from "../../chain/signer_cache.ts";
import { timeNow } from "../../chain/time.ts";
import {
  decodeSigTx,
  type SigTx,
  txDigest,
  type TxFacts,
  txHash,
  txSigner,
} from "../../chain/tx.ts";
import { messageOf } from "../../util/errors.ts";

/** A decoded block and its facts, or why its bytes do not decode. */
export type BlockResult = { block: SigBlock; facts: BlockFacts } | {
  error: string;
};

/** A decoded transaction and its facts, or why its bytes do not decode. */
export type TxResult = { tx: SigTx; facts: TxFacts } | { error: string };

/** A message to a verification worker. */
export type WorkerRequest =
  | {
    id: number;
    kind: "blocks";
    items: PackedItems;
    /**
     * Blocks numbered up to this one (decimal) are assumed valid: their
     * transactions' signers are taken as declared, not recovered.
     */
    assumeValidTo?: string;
  }
  | { id: number; kind: "txs"; items: PackedItems }
  | { id: number; kind: "recover"; ms: number; known?: boolean }
  | { id: number; kind: "ping" };

/**
 * Byte strings packed into one buffer, moved (not copied) to a worker: the
 * end offset of each. A received message is often a view into a much larger
 * buffer, which posting as it is would copy whole.
 */
export interface PackedItems {
  /** Every item, one after the other. */
  readonly buffer: ArrayBuffer;
  /** Where each item ends in `buffer`. */
  readonly ends: number[];
}

/** Packs byte strings for a worker. */
export function packItems(items: readonly Uint8Array[]): PackedItems {
  let size = 0;
  for (const i of items) size += i.length;
  const out = new Uint8Array(size);
  const ends: number[] = [];
  let off = 0;
  for (const i of items) {
    out.set(i, off);
    off += i.length;
    ends.push(off);
  }
  return { buffer: out.buffer, ends };
}

/** The byte strings of {@link packItems}, as views into its buffer. */
export function unpackItems(packed: PackedItems): Uint8Array[] {
  const all = new Uint8Array(packed.buffer);
  let start = 0;
  return packed.ends.map((end) => {
    const item = all.subarray(start, end);
    start = end;
    return item;
  });
}

/** A verification worker's answer. */
export type WorkerResponse =
  | { id: number; kind: "blocks"; results: BlockResult[] }
  | { id: number; kind: "txs"; results: TxResult[] }
  | { id: number; kind: "recover"; count: number }
  | { id: number; kind: "ping" };

/**
 * The facts of a block assumed valid: everything worked out (its hash, its
 * signer, its Merkle root, its transactions' hashes) but the signers of its
 * transactions, taken as the `from` they declare.
 */
function assumedFacts(b: SigBlock): BlockFacts {
  return {
    bytes: blockBytes(b),
    hash: blockHash(b),
    signer: blockSigner(b),
    root: blockRoot(b),
    txHashes: b.txs.map(txHash),
    txSigners: b.txs.map((tx) => tx.from),
  };
}

function checkBlock(bytes: Uint8Array, assumeTo: bigint): BlockResult {
  try {
    const block = decodeSigBlock(bytes);
    return {
      block,
      facts: block.number <= assumeTo ? assumedFacts(block) : blockFacts(block),
    };
  } catch (e) {
    return { error: messageOf(e) };
  }
}

function checkTx(bytes: Uint8Array): TxResult {
  try {
    const tx = decodeSigTx(bytes);
    return { tx, facts: { hash: txHash(tx), signer: txSigner(tx) } };
  } catch (e) {
    return { error: messageOf(e) };
  }
}

// Recovers one signature over and over for `ms`: the pure rate, for the
// benchmark's bound. With `known`, checks it against its signer's key
// instead, as a repeat signer's signatures are (see recoverAddress).
function recoverFor(ms: number, known = false): number {
  const a = Account.create();
  const tx = a.signTx({
    from: a.address,
    to: a.address,
    value: 1n,
    nonce: 1n,
    time: timeNow(),
  });
  const digest = txDigest(tx);
  const once = known
    ? () => recoverAddress(digest, tx.sig, a.address)
    : () => recover(digest, tx.sig);
  // Twice recovered, the signer's key is known.
  if (known) {
    once();
    once();
  }
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < ms) {
    once();
    n++;
  }
  return n;
}

/**
 * Does what a request asks; returns the answer and the buffers it may move
 * (not copy) back to the caller's thread.
 *
 * @example
 * ```ts
 * import { handleRequest } from "./work.ts";
 * const { response } = handleRequest({ id: 1, kind: "recover", ms: 1 });
 * console.log(response.kind); // "recover"
 * ```
 */
export function handleRequest(
  req: WorkerRequest,
): { response: WorkerResponse; transfer: Transferable[] } {
  if (req.kind === "blocks") {
    const assumeTo = BigInt(req.assumeValidTo ?? "0");
    const results = unpackItems(req.items).map((b) => checkBlock(b, assumeTo));
    // The canonical bytes move to the main thread instead of being copied.
    const transfer = results.flatMap((r) =>
      "facts" in r ? [r.facts.bytes.buffer as ArrayBuffer] : []
    );
    return { response: { id: req.id, kind: "blocks", results }, transfer };
  }
  if (req.kind === "txs") {
    return {
      response: {
        id: req.id,
        kind: "txs",
        results: unpackItems(req.items).map(checkTx),
      },
      transfer: [],
    };
  }
  if (req.kind === "ping") {
    return { response: { id: req.id, kind: "ping" }, transfer: [] };
  }
  return {
    response: {
      id: req.id,
      kind: "recover",
      count: recoverFor(req.ms, req.known),
    },
    transfer: [],
  };
}
