/**
 * The Block service: genesis and block sync from the block store, and (with
 * a node) block relay and search.
 *
 * @module
 */
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import {
  blockHash,
  decodeSigBlock,
  encodeSigBlock,
  type SigBlock,
} from "../chain/block.ts";
import type { BlockStore } from "../store/block_store.ts";
import type { Block } from "./gen/block_pb.ts";
import { relayOrigin } from "./relay_origin.ts";
import { blockStoreError, storeReason } from "./block_store_status.ts";
import { hexPrefixField } from "./hex_prefix.ts";
import { encodeUtf8 } from "../util/utf8.ts";
import { messageOf } from "../util/errors.ts";

/** What the Block service's sync methods read from. */
export interface BlockSyncBackend {
  /** The node's block store. */
  readonly store: BlockStore;
}

/**
 * GenesisSync and BlockSync, straight from the block store: the stored
 * genesis bytes, and the stored blocks from a number on, streamed in
 * constant memory until the client goes away.
 */
export function blockSyncMethods(
  backend: BlockSyncBackend,
): Pick<ServiceImpl<typeof Block>, "genesisSync" | "blockSync"> {
  return {
    async genesisSync() {
      let genesis: Uint8Array | undefined;
      try {
        genesis = await backend.store.readGenesisBytes();
      } catch (e) {
        throw blockStoreError(e);
      }
      if (genesis === undefined) {
        throw new ConnectError("no genesis in the block store", Code.NotFound);
      }
      return { Genesis: genesis };
    },
    async *blockSync(req, ctx) {
      // 0 and 1 both mean "from the first block".
      const from = req.Number > 1n ? req.Number : 1n;
      try {
        for await (
          const line of backend.store.blockLines({ from, signal: ctx.signal })
        ) {
          yield { Block: line };
        }
      } catch (e) {
        if (ctx.signal.aborted) return;
        throw blockStoreError(e);
      }
    },
  };
}

/**
 * What BlockReceive and BlockSearch need from the node's ledger (the node's
 * `Ledger` implements it).
 */
export interface BlockLedger {
  /** The confirmed blocks, for BlockSearch. */
  readonly store: Pick<BlockStore, "blocks">;
  /**
   * Offers a relayed block, from `origin` when the sender named itself:
   * applied, persisted, relayed and published when it is the next one,
   * dropped otherwise (the outcome is not used here). Rejects only when
   * the store failed under an applied block.
   */
  receiveBlock(block: SigBlock, origin?: string): Promise<unknown>;
}

/** What the Block service's relay and search methods work on. */
export interface BlockRelayBackend {
  /** The node's ledger. */
  readonly ledger: BlockLedger;
  /** Where dropped relayed blocks are reported; nowhere by default. */
  readonly log?: (message: string) => void;
}

/**
 * BlockReceive and BlockSearch on a ledger:
 * - BlockReceive takes relayed blocks and offers each to the ledger, which
 *   applies, persists, relays (to every peer but the sender, when it names
 *   itself, see `RELAY_ORIGIN_HEADER`) and publishes the next one; undecodable,
 *   invalid, known or future blocks are dropped and the stream goes on;
 * - BlockSearch streams the first stored block whose number equals `Number`
 *   (when non-zero), or whose hash or parent starts with the given hex
 *   prefix; nothing when none matches. Exactly one criterion must be given,
 *   else InvalidArgument.
 */
export function blockRelayMethods(
  backend: BlockRelayBackend,
): Pick<ServiceImpl<typeof Block>, "blockReceive" | "blockSearch"> {
  const { ledger } = backend;
  return {
    async blockReceive(reqs, ctx) {
      // A bcn sender names itself, so its blocks are not sent back.
      const origin = relayOrigin(ctx.requestHeader);
      for await (const req of reqs) {
        let block: SigBlock;
        try {
          block = decodeSigBlock(req.Block);
        } catch (e) {
          backend.log?.(`dropped relayed block: ${messageOf(e)}`);
          continue;
        }
        try {
          await ledger.receiveBlock(block, origin);
        } catch (e) {
          // The store failed under an applied block: the ledger has already
          // reported it as fatal to the node.
          throw new ConnectError(
            `cannot keep block ${block.number}: ${storeReason(e)}`,
            Code.Internal,
          );
        }
      }
      return {};
    },

    async *blockSearch(req, ctx) {
      const match = blockCriterion(req);
      // A number search starts at its line; the others read from the start.
      const from = req.Number > 0n ? req.Number : 1n;
      try {
        for await (
          const block of ledger.store.blocks({ from, signal: ctx.signal })
        ) {
          if (!match(block)) continue;
          yield { Block: encodeUtf8(encodeSigBlock(block)) };
          return;
        }
      } catch (e) {
        if (ctx.signal.aborted) return;
        throw blockStoreError(e);
      }
    },
  };
}

/** The single criterion of a BlockSearch request; InvalidArgument otherwise. */
function blockCriterion(
  req: { Number: bigint; Hash: string; Parent: string },
): (block: SigBlock) => boolean {
  const given = [req.Number !== 0n, req.Hash !== "", req.Parent !== ""]
    .filter(Boolean).length;
  if (given !== 1) {
    throw new ConnectError(
      "give exactly one of Number, Hash or Parent",
      Code.InvalidArgument,
    );
  }
  if (req.Number !== 0n) return (block) => block.number === req.Number;
  const field = req.Hash !== "" ? "Hash" : "Parent";
  const prefix = hexPrefixField(req.Hash || req.Parent, field);
  return field === "Hash"
    ? (block) => blockHash(block).startsWith(prefix)
    : (block) => block.parent.startsWith(prefix);
}
