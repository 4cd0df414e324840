/**
 * The client of a bcn node (`@bcn/bcn/client`): {@link Client} and what its
 * calls take and give, signing on this machine with a key file, and the
 * one-line errors.
 *
 * ```ts
 * import { Client } from "@bcn/bcn/client";
 *
 * await using client = new Client("127.0.0.1:1122");
 * const status = await client.status();
 * console.log(`block ${status.lastBlock.number}, ${status.peers.length} peers`);
 * ```
 *
 * @module
 */

export {
  type BlockQuery,
  type CallOptions,
  Client,
  type ClientOptions,
  encodeNodeEvent,
  type NodeEvent,
  nodeEventOf,
  SEARCH_TIMEOUT_MS,
  type SendResult,
  type SubscribeEventsOptions,
  type TxQuery,
} from "./client.ts";
export {
  checkAddress,
  checkHash,
  checkHexPrefix,
  InputError,
  NodeError,
} from "./call_errors.ts";
/** The RPC status codes of {@link NodeError.code} (Connect's). */
export { Code } from "@connectrpc/connect";
export {
  checkTransfer,
  type KeySource,
  signTransfer,
  type Transfer,
} from "./sign.ts";
export { STATUS_TIMEOUT_MS } from "./fetch_status.ts";
export type { Health, NodePhase, NodeStatus } from "../node/observe/status.ts";
