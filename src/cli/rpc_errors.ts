/**
 * Calling a node from a client command, and turning what can go wrong into
 * one line a user can act on: `cannot reach node 127.0.0.1:1122: connection
 * refused`, `node 127.0.0.1:1122: tx rejected: tx 1f2e...: insufficient
 * funds`, `node 127.0.0.1:1122: bad answer: tx.sig: missing`.
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { DecodeError } from "../chain/json.ts";
import { splitHostPort } from "../node/config.ts";
import { withoutAddr } from "../rpc/errors.ts";
import { firstLine, networkCause } from "../util/errors.ts";
import { type PeerClients, PeerRegistry } from "../rpc/registry.ts";
import { type Flags, requireString, UsageError } from "./args.ts";

/** A failed call to a node, with a one-line message naming the node. */
export class NodeError extends Error {
  /** The RPC status code, when the node (or the transport) gave one. */
  readonly code: Code | undefined;

  /**
   * Creates the error.
   *
   * @example
   * ```ts
   * import { Code } from "@connectrpc/connect";
   * import { NodeError } from "./rpc_errors.ts";
   *
   * const err = new NodeError("node 127.0.0.1:1122: not found", Code.NotFound);
   * ```
   */
  constructor(message: string, code?: Code) {
    super(message);
    this.name = "NodeError";
    this.code = code;
  }
}

/**
 * Words put before the node's own message, by status code; a command gives
 * its own for the codes it knows the meaning of (such as `tx rejected` for
 * FailedPrecondition in `tx send`).
 */
export type CodeLabels = Partial<Record<Code, string>>;

/** The default words for each status a node answers with. */
export const DEFAULT_LABELS: Readonly<Record<Code, string>> = {
  [Code.Canceled]: "call canceled",
  [Code.Unknown]: "node error",
  [Code.InvalidArgument]: "invalid request",
  [Code.DeadlineExceeded]: "no answer in time",
  [Code.NotFound]: "not found",
  [Code.AlreadyExists]: "already exists",
  [Code.PermissionDenied]: "permission denied",
  [Code.ResourceExhausted]: "node busy",
  [Code.FailedPrecondition]: "rejected",
  [Code.Aborted]: "aborted",
  [Code.OutOfRange]: "out of range",
  [Code.Unimplemented]: "not supported by this node",
  [Code.Internal]: "internal node error",
  [Code.Unavailable]: "unavailable",
  [Code.DataLoss]: "data loss",
  [Code.Unauthenticated]: "not authenticated",
};

/**
 * Describes a failed call to node `addr` in one line:
 *
 * - a network failure: `cannot reach node ADDR: connection refused`;
 * - an answer from the node: `node ADDR: LABEL: MESSAGE`, with the node's own
 *   message (Connect's `[code]` prefix stripped) after the label of its status
 *   code (`labels`, else {@link DEFAULT_LABELS});
 * - an answer that does not decode: `node ADDR: bad answer: PROBLEM`;
 * - anything else: `node ADDR: MESSAGE`.
 *
 * @example
 * ```ts
 * import { Code, ConnectError } from "@connectrpc/connect";
 * import { describeRpcError } from "./rpc_errors.ts";
 *
 * const err = new ConnectError("tx 1f2e: insufficient funds", Code.FailedPrecondition);
 * describeRpcError("127.0.0.1:1122", err, { [Code.FailedPrecondition]: "tx rejected" });
 * // "node 127.0.0.1:1122: tx rejected: tx 1f2e: insufficient funds"
 * ```
 */
export function describeRpcError(
  addr: string,
  err: unknown,
  labels: CodeLabels = {},
): string {
  const network = describeNetworkFailure(err);
  if (network !== undefined) {
    return `cannot reach node ${addr}: ${withoutAddr(network, addr)}`;
  }
  if (err instanceof ConnectError) {
    const label = labels[err.code] ?? DEFAULT_LABELS[err.code] ??
      `status ${err.code}`;
    const message = firstLine(err.rawMessage);
    return message === "" || message === label
      ? `node ${addr}: ${label}`
      : `node ${addr}: ${label}: ${message}`;
  }
  if (err instanceof DecodeError) {
    return `node ${addr}: bad answer: ${firstLine(err.message)}`;
  }
  const message = err instanceof Error ? err.message : String(err);
  return `node ${addr}: ${withoutAddr(firstLine(message), addr)}`;
}

/**
 * The error a command throws after a failed call to node `addr`: a
 * {@link NodeError} with the {@link describeRpcError} message for RPC
 * failures and undecodable answers; any other error (a usage error, a
 * command's own one-line error, a programming error) unchanged.
 *
 * @example
 * ```ts
 * import { Code, ConnectError } from "@connectrpc/connect";
 * import { nodeError } from "./rpc_errors.ts";
 *
 * const err = nodeError("127.0.0.1:1122", new ConnectError("no such account", Code.NotFound));
 * console.log(err.message); // node 127.0.0.1:1122: not found: no such account
 * ```
 */
export function nodeError(
  addr: string,
  err: unknown,
  labels: CodeLabels = {},
): Error {
  if (err instanceof ConnectError) {
    return new NodeError(describeRpcError(addr, err, labels), err.code);
  }
  if (err instanceof DecodeError) {
    return new NodeError(describeRpcError(addr, err, labels));
  }
  if (err instanceof Error) return err;
  return new NodeError(describeRpcError(addr, err, labels));
}

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
    throw new UsageError(`--node: ${(e as Error).message}`);
  }
  return node;
}

/**
 * What went wrong on the network, when `err` (or an error in its `cause`
 * chain) is a network failure such as a refused or reset connection;
 * `undefined` for an answer from the node or any other error. The words
 * are those of {@link networkCause}, which the node's logs use too.
 *
 * @example
 * ```ts
 * import { Code, ConnectError } from "@connectrpc/connect";
 * import { describeNetworkFailure } from "./rpc_errors.ts";
 *
 * const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
 * describeNetworkFailure(ConnectError.from(refused)); // "connection refused"
 * describeNetworkFailure(new ConnectError("no", Code.NotFound)); // undefined
 * ```
 */
export function describeNetworkFailure(err: unknown): string | undefined {
  return networkCause(err);
}

/**
 * How long a search stream may run before the CLI gives up on the node, so
 * a node that stalls cannot hang the command.
 */
export const SEARCH_TIMEOUT_MS = 120_000;
