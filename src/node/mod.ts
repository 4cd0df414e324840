/**
 * The bcn node and its parts (`@bcn/bcn/node`): {@link Node}, its
 * configuration and status, state sync, the ledger that applies and stores
 * blocks, the event bus, and the pool that verifies signatures on worker
 * threads.
 *
 * ```ts
 * import { Node } from "@bcn/bcn/node";
 *
 * const node = new Node({
 *   node: "127.0.0.1:1122",
 *   bootstrap: true,
 *   keyStoreDir: ".keystore1122",
 *   blockStoreDir: ".blockstore1122",
 *   chain: "blockchain",
 *   authPass: "authority password",
 *   ownerPass: "owner password",
 *   balance: 1000n,
 * });
 * await node.start();
 * ```
 *
 * @module
 */

export { DEFAULT_PERIOD_MS, type NodeConfig } from "./config.ts";
export type { PeerProtocol } from "../rpc/transport.ts";
export {
  type ConnectSyncSource,
  connectSyncSource,
} from "./connect_sync_source.ts";
export {
  DEFAULT_SUBSCRIBER_CAPACITY,
  EventBus,
  type SubscribeOptions,
} from "./events.ts";
export { SubscriberTooSlow } from "../rpc/event_feed.ts";
export {
  type BlockOutcome,
  type CommitOptions,
  Ledger,
  type LedgerHooks,
  type LedgerOptions,
} from "./ledger.ts";
export { Node, type NodeOptions } from "./node.ts";
export {
  type PeerReader,
  StateSync,
  type StateSyncConfig,
  type StateSyncOptions,
  type SyncBlocksOptions,
  SyncError,
  type SyncErrorKind,
  type SyncErrorOptions,
  type SyncPeers,
  type SyncSource,
} from "./state_sync.ts";
export {
  type Backfilling,
  decodeStatus,
  encodeStatus,
  type Health,
  type HealthInput,
  healthOf,
  type NodePhase,
  type NodeStatus,
} from "./observe/status.ts";
export {
  type Checked,
  type PipelineOptions,
  recoveryRate,
  verifiedBlocks,
  VerifyPool,
  type VerifyPoolOptions,
} from "./verify/pool.ts";
export type { AccountLedger } from "../rpc/account_service.ts";
export type { BlockLedger } from "../rpc/block_service.ts";
export type { TxLedger } from "../rpc/tx_service.ts";
export type { PeerBook } from "../rpc/node_service.ts";
export type { EventFeed, EventFeedOptions } from "../rpc/event_feed.ts";
