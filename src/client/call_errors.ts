/**
 * What can go wrong when calling a node, in one line a user can act on:
 * `cannot reach node 127.0.0.1:1122: connection refused`, `node
 * 127.0.0.1:1122: tx rejected: tx 1f2e...: insufficient funds`, `node
 * 127.0.0.1:1122: bad answer: tx.sig: missing`; and the checks of what a
 * caller passes in, made before any call (`account: invalid address "zz":
 * expected 64 hex characters`).
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { DecodeError, encodeString } from "../chain/json.ts";
import { withoutAddr } from "../rpc/peer_errors.ts";
import { firstLine, messageOf, networkCause } from "../util/errors.ts";

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
   * import { NodeError } from "./call_errors.ts";
   *
   * const err = new NodeError("node 127.0.0.1:1122: not found", Code.NotFound);
   * console.log(err.message);
   * ```
   */
  constructor(message: string, code?: Code) {
    super(message);
    this.name = "NodeError";
    this.code = code;
  }
}

/**
 * Input refused before any call: a malformed address, hash or amount. The
 * message names what was wrong (`account: invalid address "zz": expected 64
 * hex characters`).
 */
export class InputError extends Error {
  /**
   * Creates the error.
   *
   * @example
   * ```ts
   * import { InputError } from "./call_errors.ts";
   *
   * throw new InputError('account: invalid address "zz": expected 64 hex characters');
   * ```
   */
  constructor(message: string) {
    super(message);
    this.name = "InputError";
  }
}

const HEX64_RE = /^[0-9a-f]{64}$/i;

/** `value` as 64 hex characters, lowercased; else an error naming `what`. */
function hex64(value: string, what: string, kind: string): string {
  if (typeof value !== "string" || !HEX64_RE.test(value)) {
    throw new InputError(
      `${what}: invalid ${kind} ${
        encodeString(String(value).slice(0, 100))
      }: expected 64 hex characters`,
    );
  }
  return value.toLowerCase();
}

/**
 * An account address checked: 64 hex characters, returned lowercase; an
 * {@link InputError} naming `what` otherwise.
 *
 * @example
 * ```ts
 * import { checkAddress } from "./call_errors.ts";
 * import { messageOf } from "../util/errors.ts";
 *
 * checkAddress("AB".repeat(32), "account"); // "abab..."
 * try {
 *   checkAddress("zz", "account");
 * } catch (e) {
 *   console.log(messageOf(e)); // account: invalid address "zz": expected 64 hex characters
 * }
 * ```
 */
export function checkAddress(value: string, what = "address"): string {
  return hex64(value, what, "address");
}

/**
 * A hash (of a transaction, a block or a Merkle root) checked: 64 hex
 * characters, returned lowercase; an {@link InputError} naming `what`
 * otherwise.
 *
 * @example
 * ```ts
 * import { checkHash } from "./call_errors.ts";
 *
 * checkHash("CD".repeat(32), "hash"); // "cdcd..."
 * ```
 */
export function checkHash(value: string, what = "hash"): string {
  return hex64(value, what, "hash");
}

const HEX_PREFIX_RE = /^[0-9a-f]{1,64}$/i;

/**
 * A search prefix checked: 1 to 64 hex characters, returned lowercase; an
 * {@link InputError} naming `what` otherwise.
 *
 * @example
 * ```ts
 * import { checkHexPrefix } from "./call_errors.ts";
 *
 * checkHexPrefix("AB12", "hash"); // "ab12"
 * ```
 */
export function checkHexPrefix(value: string, what = "prefix"): string {
  if (typeof value !== "string" || !HEX_PREFIX_RE.test(value)) {
    throw new InputError(
      `${what}: expected a prefix of 1 to 64 hex characters, got ${
        encodeString(String(value).slice(0, 100))
      }`,
    );
  }
  return value.toLowerCase();
}

/**
 * Words put before the node's own message, by status code; a call gives
 * its own for the codes it knows the meaning of (such as `tx rejected` for
 * FailedPrecondition when sending a transaction).
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
 * import { describeRpcError } from "./call_errors.ts";
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
  const network = networkCause(err);
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
  return `node ${addr}: ${withoutAddr(firstLine(messageOf(err)), addr)}`;
}

/**
 * The error to throw after a failed call to node `addr`: a
 * {@link NodeError} with the {@link describeRpcError} message for RPC
 * failures and undecodable answers; any other error (an
 * {@link InputError}, a programming error) unchanged.
 *
 * @example
 * ```ts
 * import { Code, ConnectError } from "@connectrpc/connect";
 * import { nodeError } from "./call_errors.ts";
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
