/**
 * The `--node HOST:PORT` flag of a client command, checked before the node
 * is called. What can go wrong in the call itself is described once, by
 * the client (`client/call_errors.ts`).
 *
 * @module
 */
import { splitHostPort } from "../rpc/peer_address.ts";
import { messageOf } from "../util/errors.ts";
import { type Flags, requireString, UsageError } from "./args.ts";

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
