/**
 * The Block service: genesis and block sync from the block store, and (with
 * a node) block relay and search.
 *
 * @module
 */
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { BlockStore } from "../store/block_store.ts";
import type { Block } from "./gen/block_pb.ts";

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
      const genesis = await backend.store.readGenesisBytes();
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
        throw new ConnectError(
          `cannot read the block store: ${(e as Error).message}`,
          Code.Internal,
        );
      }
    },
  };
}
