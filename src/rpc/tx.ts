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
import { DecodeError, parseHash, timeNow } from "../chain/json.ts";
import {
  decodeMerkleProof,
  encodeMerkleProof,
  merkleProve,
  type MerkleStep,
  merkleVerify,
} from "../chain/merkle.ts";
import { encodeSearchTx, type SearchTx } from "../chain/search_tx.ts";
import { StateError } from "../chain/state.ts";
import { decodeSigTx, encodeSigTx, type SigTx, txHash } from "../chain/tx.ts";
import type { Ledger } from "../node/ledger.ts";
import {
  KeyStoreError,
  type KeyStoreErrorKind,
  readKey,
} from "../store/key_store.ts";
import type { Tx } from "./gen/tx_pb.ts";

/** What the Tx service works on. */
export interface TxBackend {
  /** The node's state and block store. */
  readonly ledger: Ledger;
  /** The directory of the node's key files. */
  readonly keyStoreDir: string;
  /** Where dropped relayed transactions are reported; nowhere by default. */
  readonly log?: (message: string) => void;
}

const utf8 = new TextEncoder();
const ADDRESS_RE = /^[0-9a-fA-F]{64}$/;
const HEX_PREFIX_RE = /^[0-9a-f]{1,64}$/;
/** Relayed transactions of one stream verified at once, at most. */
const MAX_TXS_IN_FLIGHT = 256;

/**
 * The Tx service on a ledger and a key store:
 * - TxSign signs `From -> To` with From's key and the next pending nonce,
 *   without sending it;
 * - TxSend validates against the pending state, keeps and relays
 *   (FailedPrecondition when it does not apply);
 * - TxReceive takes relayed transactions, dropping invalid ones;
 * - TxSearch streams confirmed transactions by hash, from, to or account
 *   prefix as SearchTx JSON;
 * - TxProve and TxVerify build and check Merkle inclusion proofs.
 *
 * Malformed requests fail with InvalidArgument, a missing key or transaction
 * with NotFound, a wrong password with PermissionDenied.
 */
export function txMethods(backend: TxBackend): ServiceImpl<typeof Tx> {
  const { ledger } = backend;
  return {
    async txSign(req) {
      if (!ADDRESS_RE.test(req.From)) {
        throw new ConnectError(
          `invalid From address ${
            JSON.stringify(req.From)
          }: expected 64 hex characters`,
          Code.InvalidArgument,
        );
      }
      const account = await readAccount(
        backend.keyStoreDir,
        req.From,
        req.Password,
      );
      const from = account.address;
      const tx = account.signTx({
        from,
        to: req.To,
        value: req.Value,
        nonce: ledger.state.nonce(from, true) + 1n,
        time: timeNow(),
      });
      return { Tx: utf8.encode(encodeTx(tx)) };
    },

    async txSend(req) {
      const tx = decodeTx(req.Tx);
      try {
        // Verified in the node's pool; applied in arrival order.
        return { Hash: await ledger.submitTx(tx) };
      } catch (e) {
        if (e instanceof StateError) {
          throw new ConnectError(e.message, Code.FailedPrecondition);
        }
        throw e;
      }
    },

    async txReceive(reqs) {
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
          backend.log?.(`dropped relayed tx: ${(e as Error).message}`);
          continue;
        }
        const offered: Promise<void> = ledger.offerTx(tx).then((fresh) => {
          if (!fresh) dropped++;
          inFlight.delete(offered);
        });
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
            yield { Tx: utf8.encode(encodeSearchTx(found)) };
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
        return { MerkleProof: utf8.encode(encodeMerkleProof(proof)) };
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

/** Reads a key, turning key-store errors into RPC statuses. */
async function readAccount(
  dir: string,
  address: string,
  password: string,
): Promise<Account> {
  try {
    return await readKey(dir, address, password);
  } catch (e) {
    if (!(e instanceof KeyStoreError)) {
      throw new ConnectError(
        `cannot read the key store: ${(e as Error).message}`,
        Code.Internal,
      );
    }
    const code = KEY_STORE_CODES[e.kind];
    throw new ConnectError(e.message, code);
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
      const prefix = req.Hash.toLowerCase();
      if (!HEX_PREFIX_RE.test(prefix)) {
        throw new ConnectError(
          "Hash: expected a prefix of 1 to 64 hex characters",
          Code.InvalidArgument,
        );
      }
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
  ledger: Ledger,
  signal: AbortSignal,
): AsyncGenerator<SigBlock> {
  try {
    yield* ledger.store.blocks({ signal });
  } catch (e) {
    if (signal.aborted) throw e;
    throw new ConnectError(
      `cannot read the block store: ${(e as Error).message}`,
      Code.Internal,
    );
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
