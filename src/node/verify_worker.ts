/**
 * The body of a verification worker (see `verify_pool.ts`): decodes blocks
 * and transactions from their bytes and works out everything costly about
 * them (hashes, Merkle roots, recovered signers), so the main thread only
 * applies them in order.
 *
 * @module
 */
import { blockFacts, decodeSigBlock } from "../chain/block.ts";
import { recover } from "../chain/crypto.ts";
import { decodeSigTx, txDigest, txHash, txSigner } from "../chain/tx.ts";
import { Account } from "../chain/account.ts";
import { timeNow } from "../chain/time.ts";
import type {
  BlockResult,
  TxResult,
  WorkerRequest,
  WorkerResponse,
} from "./verify_pool.ts";
import { unpackItems } from "./verify_pool.ts";

/** The worker side of `postMessage`, without the DOM's types. */
interface WorkerScope {
  onmessage: ((e: MessageEvent<WorkerRequest>) => void) | null;
  postMessage(message: WorkerResponse, transfer?: Transferable[]): void;
}

const scope = globalThis as unknown as WorkerScope;

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function checkBlock(bytes: Uint8Array): BlockResult {
  try {
    const block = decodeSigBlock(bytes);
    return { block, facts: blockFacts(block) };
  } catch (e) {
    return { error: errorMessage(e) };
  }
}

function checkTx(bytes: Uint8Array): TxResult {
  try {
    const tx = decodeSigTx(bytes);
    return { tx, facts: { hash: txHash(tx), signer: txSigner(tx) } };
  } catch (e) {
    return { error: errorMessage(e) };
  }
}

// Recovers one signature over and over for `ms`: the pure rate, for the
// benchmark's bound.
function recoverFor(ms: number): number {
  const a = Account.create();
  const tx = a.signTx({
    from: a.address,
    to: a.address,
    value: 1n,
    nonce: 1n,
    time: timeNow(),
  });
  const digest = txDigest(tx);
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < ms) {
    recover(digest, tx.sig);
    n++;
  }
  return n;
}

scope.onmessage = (e: MessageEvent<WorkerRequest>): void => {
  const req = e.data;
  if (req.kind === "blocks") {
    const results = unpackItems(req.items).map(checkBlock);
    // The canonical bytes move to the main thread instead of being copied.
    const transfer = results.flatMap((r) =>
      "facts" in r ? [r.facts.bytes.buffer as ArrayBuffer] : []
    );
    scope.postMessage({ id: req.id, kind: "blocks", results }, transfer);
  } else if (req.kind === "txs") {
    scope.postMessage({
      id: req.id,
      kind: "txs",
      results: unpackItems(req.items).map(checkTx),
    });
  } else {
    scope.postMessage({
      id: req.id,
      kind: "recover",
      count: recoverFor(req.ms),
    });
  }
};
