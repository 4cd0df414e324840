/**
 * The Checkpoint service (bcn only): a checkpoint the node holds and has
 * checked, its block, and (when asked) the state at it in chunks.
 *
 * @module
 */
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import {
  encodeSigCheckpoint,
  type SigCheckpoint,
} from "../chain/checkpoint.ts";
import { messageWithoutPaths } from "../util/errors.ts";
import type { Checkpoint } from "./gen/checkpoint_pb.ts";
import { encodeUtf8 } from "../util/utf8.ts";

/** What the Checkpoint service reads from. */
export interface CheckpointBackend {
  /** The newest checkpoint the node serves. */
  served(): SigCheckpoint | undefined;
  /** The checkpoint the node serves at block `number`, if any. */
  get(number: bigint): SigCheckpoint | undefined;
  /**
   * The state kept at checkpoint `c` (its block's bytes and its chunks),
   * or undefined when the node keeps no state for it.
   */
  readState(
    c: SigCheckpoint,
    signal: AbortSignal,
  ): Promise<
    { block: Uint8Array; chunks: AsyncIterable<Uint8Array> } | undefined
  >;
}

/**
 * CheckpointSync: the checkpoint at `Number` (0: the newest the node
 * serves) with its block in the first message (when the node keeps the
 * state there), then the state's chunks in order when `State` is asked.
 * NotFound when the node serves no such checkpoint, or keeps no state for
 * it and `State` is asked (only the newest one's is kept).
 *
 * @example
 * ```ts
 * import { checkpointMethods } from "./checkpoint_service.ts";
 * const methods = checkpointMethods({
 *   served: () => undefined,
 *   get: () => undefined,
 *   readState: () => Promise.resolve(undefined),
 * });
 * console.log(typeof methods.checkpointSync); // "function"
 * ```
 */
export function checkpointMethods(
  backend: CheckpointBackend,
): ServiceImpl<typeof Checkpoint> {
  return {
    async *checkpointSync(req, ctx) {
      const c = req.Number === 0n ? backend.served() : backend.get(req.Number);
      if (!c) {
        throw new ConnectError(
          req.Number === 0n
            ? "no checkpoint yet"
            : `no checkpoint at block ${req.Number}`,
          Code.NotFound,
        );
      }
      const record = encodeUtf8(encodeSigCheckpoint(c));
      let state;
      try {
        state = await backend.readState(c, ctx.signal);
      } catch (e) {
        throw stateError(e);
      }
      if (!state) {
        if (req.State) {
          throw new ConnectError(
            `no state kept for checkpoint ${c.number}`,
            Code.NotFound,
          );
        }
        // The record alone: enough for a node checking its own state.
        yield { Checkpoint: record };
        return;
      }
      const iterator = state.chunks[Symbol.asyncIterator]();
      try {
        yield { Checkpoint: record, Block: state.block };
        if (!req.State) return;
        for (;;) {
          const r = await iterator.next();
          if (r.done) return;
          yield { Accounts: r.value };
        }
      } catch (e) {
        if (ctx.signal.aborted) return;
        throw stateError(e);
      } finally {
        await iterator.return?.();
      }
    },
  };
}

/** Internal, without the node's paths: the client learns what, not where. */
function stateError(err: unknown): ConnectError {
  return new ConnectError(
    `cannot read the checkpoint state: ${messageWithoutPaths(err)}`,
    Code.Internal,
  );
}
