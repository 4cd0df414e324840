/**
 * Describing a failed call to a peer in one line, as the node's logs do;
 * the Client words its messages for users on top of these
 * (`client/call_errors.ts`).
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { firstLine, messageOf } from "../util/errors.ts";

/**
 * `text` without a trailing ` addr`: "connect ECONNREFUSED 127.0.0.1:1123"
 * would name the peer twice in a message that already names it.
 *
 * @example
 * ```ts
 * import { withoutAddr } from "./peer_errors.ts";
 *
 * console.log(withoutAddr("connect ECONNREFUSED 10.0.0.1:1", "10.0.0.1:1"));
 * // "connect ECONNREFUSED"
 * ```
 */
export function withoutAddr(text: string, addr: string): string {
  return text.endsWith(` ${addr}`) ? text.slice(0, -addr.length - 1) : text;
}

/**
 * Describes a failed call in one line naming the peer, e.g.
 * `peer 127.0.0.1:1123: unavailable: connect ECONNREFUSED`.
 *
 * @example
 * ```ts
 * import { Code, ConnectError } from "@connectrpc/connect";
 * import { describePeerError } from "./peer_errors.ts";
 *
 * const err = new ConnectError("no genesis", Code.NotFound);
 * console.log(describePeerError("127.0.0.1:1122", err));
 * // peer 127.0.0.1:1122: not_found: no genesis
 * ```
 */
export function describePeerError(addr: string, err: unknown): string {
  const text = err instanceof ConnectError
    ? firstLine(`${codeName(err.code)}: ${err.rawMessage}`)
    : messageOf(err);
  return `peer ${addr}: ${withoutAddr(text, addr)}`;
}

/**
 * A Connect code's name as Connect writes it on the wire:
 * `Code.DeadlineExceeded` -> `deadline_exceeded`.
 *
 * @example
 * ```ts
 * import { Code } from "@connectrpc/connect";
 * import { codeName } from "./peer_errors.ts";
 * console.log(codeName(Code.InvalidArgument)); // "invalid_argument"
 * ```
 */
export function codeName(code: Code): string {
  const name = Code[code] ?? `code ${code}`;
  return name.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}
