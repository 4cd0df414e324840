/**
 * Calling a node from a client command, and turning what can go wrong into
 * one line a user can act on: `cannot reach node 127.0.0.1:1122: connection
 * refused`, `node 127.0.0.1:1122: tx rejected: tx 1f2e...: insufficient
 * funds`, `node 127.0.0.1:1122: bad answer: tx.sig: missing`.
 *
 * @module
 */
import { splitHostPort } from "../rpc/peer_address.ts";
import { messageOf } from "../util/errors.ts";
import { type PeerClients, PeerRegistry } from "../rpc/registry.ts";
import { type CodeLabels, nodeError } from "../client/call_errors.ts";
import { type Flags, requireString, UsageError } from "./args.ts";

// What is general about calling a node lives in client/; re-exported for the
// commands and their tests.
export {
  type CodeLabels,
  DEFAULT_LABELS,
  describeNetworkFailure,
  describeRpcError,
  NodeError,
  nodeError,
} from "../client/call_errors.ts";
export { SEARCH_TIMEOUT_MS } from "../client/client.ts";

/** Options of {@link withNode}. */
export interface WithNodeOptions {
  /** Words for the status codes whose meaning the command knows. */
  labels?: CodeLabels;
}

/**
 * Runs `run` with the typed clients of node `addr` (Connect over HTTP/1.1,
 * falling back to gRPC for a reference node), closes the clients whatever
 * happens, and turns RPC failures and undecodable answers into one-line
 * {@link NodeError}s (see {@link nodeError}). Decode errors thrown by `run`
 * are taken to be about the node's answers: check local input before.
 *
 * @example
 * ```ts
 * import { withNode } from "./rpc_errors.ts";
 *
 * const balance = await withNode("127.0.0.1:1122", async ({ account }) => {
 *   const res = await account.accountBalance({ Address: "ab12" });
 *   return res.Balance;
 * }).catch(() => undefined);
 * ```
 */
export async function withNode<T>(
  addr: string,
  run: (clients: PeerClients) => Promise<T>,
  options: WithNodeOptions = {},
): Promise<T> {
  const peers = new PeerRegistry({ protocol: "auto" });
  try {
    return await run(peers.clients(addr));
  } catch (e) {
    throw nodeError(addr, e, options.labels);
  } finally {
    peers.close();
  }
}

/**
 * The required `--node HOST:PORT` flag, checked; a usage error otherwise
 * (`missing --node`, `--node: invalid address "x": expected host:port`).
 *
 * @example
 * ```ts
 * import { requireNode } from "./rpc_errors.ts";
 *
 * requireNode({ node: "127.0.0.1:1122" }); // "127.0.0.1:1122"
 * ```
 */
export function requireNode(flags: Flags): string {
  const node = requireString(flags, "node");
  try {
    splitHostPort(node);
  } catch (e) {
    throw new UsageError(`--node: ${messageOf(e)}`);
  }
  return node;
}
