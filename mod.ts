/**
 * bcn: a proof-of-authority blockchain node, byte-compatible with the
 * reference Go node of the "blockchain from scratch in Go with gRPC" guide.
 *
 * The library holds the chain domain (canonical JSON, times, signatures,
 * transactions, blocks, Merkle proofs, events, state), the key and block
 * stores, state sync with a Connect sync source, the ledger, the event bus
 * and the node itself.
 *
 * Sync a node from a running peer in code:
 *
 * ```ts
 * import { connectSyncSource, StateSync } from "@bcn/bcn";
 *
 * const source = connectSyncSource();
 * const sync = new StateSync({
 *   node: "127.0.0.1:1123",
 *   bootstrap: false,
 *   seed: "127.0.0.1:1122",
 *   keyStoreDir: ".keystore1123",
 *   blockStoreDir: ".blockstore1123",
 *   chain: "blockchain",
 * }, { peers: { peers: () => ["127.0.0.1:1122"] }, source });
 * const state = await sync.syncState();
 * console.log(`synced to block ${state.lastNumber}: ${state.lastHash}`);
 * source.close();
 * ```
 *
 * @module
 */

export * from "./src/chain/json.ts";
export * from "./src/chain/time.ts";
export * from "./src/chain/crypto.ts";
export * from "./src/chain/tx.ts";
export * from "./src/chain/genesis.ts";
export * from "./src/chain/block.ts";
export * from "./src/chain/account.ts";
export * from "./src/chain/merkle.ts";
export * from "./src/chain/event.ts";
export * from "./src/chain/state.ts";
export * from "./src/chain/state_hash.ts";
export * from "./src/chain/checkpoint.ts";
export * from "./src/store/key_store.ts";
export * from "./src/store/block_store.ts";
export * from "./src/node/config.ts";
export {
  type PeerReader,
  StateSync,
  type StateSyncOptions,
  type SyncBlocksOptions,
  SyncError,
  type SyncErrorKind,
  type SyncErrorOptions,
  type SyncSource,
} from "./src/node/state_sync.ts";
export { messageOf } from "./src/util/errors.ts";
export type { AccountLedger } from "./src/rpc/account.ts";
export type { BlockLedger } from "./src/rpc/block.ts";
export type { TxLedger } from "./src/rpc/tx.ts";
export type { EventFeed, EventFeedOptions, PeerBook } from "./src/rpc/node.ts";
export { Node, type NodeOptions } from "./src/node/node.ts";
export {
  type Backfilling,
  decodeStatus,
  encodeStatus,
  formatStatus,
  type Health,
  type HealthInput,
  healthOf,
  type NodePhase,
  type NodeStatus,
} from "./src/node/status.ts";
export {
  DEFAULT_SUBSCRIBER_CAPACITY,
  EventBus,
  type SubscribeOptions,
  SubscriberTooSlow,
} from "./src/node/events.ts";
export {
  type BlockOutcome,
  type CommitOptions,
  Ledger,
  type LedgerHooks,
  type LedgerOptions,
} from "./src/node/ledger.ts";
export {
  type Checked,
  type PipelineOptions,
  recoveryRate,
  verifiedBlocks,
  VerifyPool,
  type VerifyPoolOptions,
} from "./src/node/verify_pool.ts";
export * from "./src/chain/search_tx.ts";
export {
  type ConnectSyncSource,
  connectSyncSource,
} from "./src/node/connect_sync_source.ts";
