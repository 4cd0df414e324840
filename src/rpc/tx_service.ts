/**
 * The Tx service: sign with a key of the node's key store, send and relay
 * transactions through the ledger, search the confirmed ones, and prove and
 * verify their Merkle inclusion.
 *
 * @module
 */
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { Account } from "../chain/account.ts";
import { blockHash, blockLeaves, type SigBlock } from "../chain/block.ts";
import { DecodeError, parseHash } from "../chain/json.ts";
import { timeNow } from "../chain/time.ts";
import {
  decodeMerkleProof,
  encodeMerkleProof,
  merkleProve,
  type MerkleStep,
  merkleVerify,
} from "../chain/merkle.ts";
import { encodeSearchTx, type SearchTx } from "../chain/search_tx.ts";
import { type State, StateError } from "../chain/state.ts";
import { decodeSigTx, encodeSigTx, type SigTx, txHash } from "../chain/tx.ts";
import type { BlockStore } from "../store/block_store.ts";
import {
  KeyStoreError,
  type KeyStoreErrorKind,
  readKey,
} from "../store/key_store.ts";
import type { Tx } from "./gen/tx_pb.ts";
import { CLIENT_ADDRESS } from "./call_context.ts";
import { KeyAccess } from "./key_access.ts";
import { PasswordThrottle } from "./password_throttle.ts";
import { relayOrigin } from "./relay_origin.ts";
import { blockStoreError } from "./block_store_status.ts";
import { hexPrefixField } from "./hex_prefix.ts";
import { encodeUtf8 } from "../util/utf8.ts";
import { messageOf, messageWithoutPaths } from "../util/errors.ts";

/**
 * What the Tx service needs from the node's ledger (the node's `Ledger`
 * implements it).
 */
export interface TxLedger {
  /** The pending state: next nonces, queued transactions. */
  readonly state: Pick<State, "nonce" | "hasQueued">;
  /** The confirmed blocks, for TxSearch and TxProve. */
  readonly store: Pick<BlockStore, "blocks">;
  /**
   * Verifies (on the node's verification pool), keeps and relays a
   * transaction sent by a client, in arrival order; resolves to its hash;
   * rejects with a `StateError` when it does not apply.
   */
  submitTx(tx: SigTx): Promise<string>;
  /**
   * Takes a relayed transaction from `origin` (when the sender named
   * itself), verified as {@link TxLedger.submitTx}; false when it is
   * invalid or known.
   */
  offerTx(tx: SigTx, origin?: string): Promise<boolean>;
}

/** What the Tx service works on. */
export interface TxBackend {
  /** The node's ledger. */
  readonly ledger: TxLedger;
  /** The directory of the node's key files. */
  readonly keyStoreDir: string;
  /** Where dropped relayed transactions are reported; nowhere by default. */
  readonly log?: (message: string) => void;
  /** Who may call TxSign; local clients only by default. */
  readonly keyAccess?: KeyAccess;
  /** Slows down password guessing in TxSign; a default one when absent. */
  readonly passwordThrottle?: PasswordThrottle;
}

/**
 * The response header of `TxSend` through which a bcn node says how it kept
 * the transaction: `pending`, or `queued` when its nonce is ahead and it
 * waits for the ones before it. `TxSendRes` has only the hash, and a
 * reference client ignores headers it does not know, so the wire stays the
 * reference's.
 *
 * @example
 * ```ts
 * import { TX_STATUS_HEADER } from "./tx_service.ts";
 *
 * console.log(TX_STATUS_HEADER); // "bcn-tx-status"
 * ```
 */
export const TX_STATUS_HEADER = "bcn-tx-status";

const ADDRESS_RE = /^[0-9a-fA-F]{64}$/;
/** Relayed transactions of one stream verified at once, at most. */
const MAX_TXS_IN_FLIGHT = 256;

/**
 * The Tx service on a ledger and a key store:
 * - TxSign signs `From -> To` with From's key and the next pending nonce,
 *   without sending it; only for clients `keyAccess` allows (PermissionDenied
 *   otherwise), and with password guessing throttled (ResourceExhausted
 *   while an account must wait, see {@link PasswordThrottle});
 * - TxSend validates against the pending state, keeps and relays
 *   (FailedPrecondition when it does not apply); a future-nonce transaction
 *   is queued, and the {@link TX_STATUS_HEADER} response header says so;
 * - TxReceive takes relayed transactions, dropping invalid ones, and relays
 *   the new ones to every peer but the sender (when it names itself, see
 *   `RELAY_ORIGIN_HEADER`);
 * - TxSearch streams confirmed transactions by hash, from, to or account
 *   prefix as SearchTx JSON;
 * - TxProve and TxVerify build and check Merkle inclusion proofs.
 *
 * Malformed requests fail with InvalidArgument, a missing key or transaction
 * with NotFound, a wrong password with PermissionDenied.
 */
export function txMethods(backend: TxBackend): ServiceImpl<typeof Tx> {
  const { ledger } = backend;
  const keyAccess = backend.keyAccess ?? new KeyAccess();
  const throttle = backend.passwordThrottle ?? new PasswordThrottle();
  return {
    async txSign(req, ctx) {
      keyAccess.check(ctx.values, "TxSign");
      if (!ADDRESS_RE.test(req.From)) {
        throw new ConnectError(
          `invalid From address ${
            JSON.stringify(req.From)
          }: expected 64 hex characters`,
          Code.InvalidArgument,
        );
      }
      const account = await throttle.attempt(
        req.From.toLowerCase(),
        () =>
          readAccount(
            backend.keyStoreDir,
            req.From,
            req.Password,
            backend.log,
          ),
        { client: ctx.values.get(CLIENT_ADDRESS) },
      );
      const from = account.address;
      const tx = account.signTx({
        from,
        to: req.To,
        value: req.Value,
        nonce: ledger.state.nonce(from, true) + 1n,
        time: timeNow(),
      });
      return { Tx: encodeUtf8(encodeTx(tx)) };
    },

    async txSend(req, ctx) {
      const tx = decodeTx(req.Tx);
      try {
        // Verified in the node's pool; applied in arrival order.
        const hash = await ledger.submitTx(tx);
        ctx.responseHeader.set(
          TX_STATUS_HEADER,
          ledger.state.hasQueued(hash) ? "queued" : "pending",
        );
        return { Hash: hash };
      } catch (e) {
        if (e instanceof StateError) {
          throw new ConnectError(e.message, Code.FailedPrecondition);
        }
        throw e;
      }
    },

    async txReceive(reqs, ctx) {
      // A bcn sender names itself, so its transactions are not sent back.
      const origin = relayOrigin(ctx.requestHeader);
      let dropped = 0;
      // Verified in the pool while the stream goes on (a bounded number at
      // once), applied in arrival order.
      const inFlight = new Set<Promise<void>>();
      for await (const req of reqs) {
        if (inFlight.size >= MAX_TXS_IN_FLIGHT) await Promise.race(inFlight);
        let tx: SigTx;
        try {
          tx = decodeSigTx(req.Tx);
        } catch (e) {
          dropped++;
          backend.log?.(`dropped relayed tx: ${messageOf(e)}`);
          continue;
        }
        const offered: Promise<void> = ledger.offerTx(tx, origin).then(
          (fresh) => {
            if (!fresh) dropped++;
            inFlight.delete(offered);
          },
        );
        inFlight.add(offered);
      }
      await Promise.all(inFlight);
      if (dropped > 0) {
        backend.log?.(`dropped ${dropped} relayed invalid or known tx(s)`);
      }
      return {};
    },

    async *txSearch(req, ctx) {
      const match = searchCriterion(req);
      try {
        for await (const block of scan(ledger, ctx.signal)) {
          for (const tx of block.txs) {
            if (!match.test(tx)) continue;
            const found: SearchTx = {
              ...tx,
              blockNumber: block.number,
              blockHash: blockHash(block),
              merkleRoot: block.merkleRoot,
            };
            yield { Tx: encodeUtf8(encodeSearchTx(found)) };
            if (match.firstOnly) return;
          }
        }
      } catch (e) {
        if (ctx.signal.aborted) return;
        throw e;
      }
    },

    async txProve(req, ctx) {
      const hash = hashField(req.Hash, "Hash");
      for await (const block of scan(ledger, ctx.signal)) {
        const leaves = blockLeaves(block);
        const index = leaves.indexOf(hash);
        if (index < 0) continue;
        const proof = merkleProve(leaves, index);
        return { MerkleProof: encodeUtf8(encodeMerkleProof(proof)) };
      }
      throw new ConnectError(
        `no confirmed transaction ${hash}`,
        Code.NotFound,
      );
    },

    txVerify(req) {
      const hash = hashField(req.Hash, "Hash");
      const root = hashField(req.MerkleRoot, "MerkleRoot");
      let proof: MerkleStep[];
      try {
        proof = decodeMerkleProof(req.MerkleProof, "MerkleProof");
      } catch (e) {
        throw invalidArgument(e);
      }
      return { Valid: merkleVerify(hash, proof, root) };
    },
  };
}

/**
 * Reads a key, turning key-store errors into RPC statuses; the status error
 * keeps the key-store error as its cause (the throttle counts wrong passwords
 * by it).
 */
async function readAccount(
  dir: string,
  address: string,
  password: string,
  log: (message: string) => void = () => {},
): Promise<Account> {
  try {
    return await readKey(dir, address, password);
  } catch (e) {
    // The client is told what went wrong, never where the keys are; the
    // node's log keeps the path of a failure the operator must look into.
    if (!(e instanceof KeyStoreError)) {
      log(`TxSign: cannot read the key store: ${messageOf(e)}`);
      throw new ConnectError(
        `cannot read the key store: ${messageWithoutPaths(e)}`,
        Code.Internal,
      );
    }
    if (e.kind === "damaged") log(`TxSign: ${e.message}`);
    const code = KEY_STORE_CODES[e.kind];
    throw new ConnectError(e.publicMessage, code, undefined, undefined, e);
  }
}

const KEY_STORE_CODES: Record<KeyStoreErrorKind, Code> = {
  "not-found": Code.NotFound,
  "wrong-password": Code.PermissionDenied,
  "invalid-address": Code.InvalidArgument,
  "short-password": Code.InvalidArgument,
  damaged: Code.FailedPrecondition,
};

/** Encodes a freshly signed transaction (a lone surrogate in To fails). */
function encodeTx(tx: SigTx): string {
  try {
    return encodeSigTx(tx);
  } catch (e) {
    throw invalidArgument(e);
  }
}

/** Decodes a SigTx from request bytes; InvalidArgument naming the field. */
function decodeTx(bytes: Uint8Array): SigTx {
  try {
    return decodeSigTx(bytes);
  } catch (e) {
    throw invalidArgument(e);
  }
}

/** A 64-hex request field as lowercase; InvalidArgument otherwise. */
function hashField(value: string, name: string): string {
  try {
    return parseHash(value, name);
  } catch (e) {
    throw invalidArgument(e);
  }
}

/** Which confirmed transactions a TxSearch request asks for. */
interface SearchCriterion {
  /** Whether the transaction matches. */
  test(tx: SigTx): boolean;
  /** Stop after the first match (hash search). */
  firstOnly: boolean;
}

/** The single criterion of a TxSearch request; InvalidArgument otherwise. */
function searchCriterion(
  req: { Hash: string; From: string; To: string; Account: string },
): SearchCriterion {
  const given = (["Hash", "From", "To", "Account"] as const).filter((k) =>
    req[k] !== ""
  );
  if (given.length !== 1) {
    throw new ConnectError(
      "give exactly one of Hash, From, To or Account",
      Code.InvalidArgument,
    );
  }
  switch (given[0]) {
    case "Hash": {
      const prefix = hexPrefixField(req.Hash, "Hash");
      return {
        test: (tx) => txHash(tx).startsWith(prefix),
        firstOnly: true,
      };
    }
    case "From":
      return { test: (tx) => tx.from.startsWith(req.From), firstOnly: false };
    case "To":
      return { test: (tx) => tx.to.startsWith(req.To), firstOnly: false };
    case "Account":
      return {
        test: (tx) =>
          tx.from.startsWith(req.Account) || tx.to.startsWith(req.Account),
        firstOnly: false,
      };
  }
}

/**
 * The confirmed blocks in order, one at a time, until `signal` aborts; a
 * store that cannot be read fails with Internal.
 */
async function* scan(
  ledger: TxLedger,
  signal: AbortSignal,
): AsyncGenerator<SigBlock> {
  try {
    yield* ledger.store.blocks({ signal });
  } catch (e) {
    if (signal.aborted) throw e;
    throw blockStoreError(e);
  }
}

/**
 * InvalidArgument carrying the message of a decode error (which names the
 * field); anything else is rethrown as it is.
 */
function invalidArgument(e: unknown): unknown {
  if (e instanceof DecodeError || e instanceof RangeError) {
    return new ConnectError(e.message, Code.InvalidArgument);
  }
  return e;
}
