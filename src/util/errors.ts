/**
 * What an error says, in one line: the `cause` chain of an error, the
 * Node-style network error code in it, the first line of a message. Every
 * layer describes its failures with these.
 *
 * @module
 */

/** How deep a `cause` chain is followed; a longer one is cut there. */
const MAX_CHAIN = 16;

/**
 * The error and its `cause` chain, outermost first; stops at a cycle, at a
 * cause that is not an `Error`, or after 16 errors.
 *
 * @example
 * ```ts
 * import { errorChain } from "./errors.ts";
 *
 * const err = new Error("outer", { cause: new Error("inner") });
 * console.log(errorChain(err).map((e) => e.message)); // ["outer", "inner"]
 * ```
 */
export function errorChain(err: unknown): Error[] {
  const chain: Error[] = [];
  let e: unknown = err;
  while (e instanceof Error && !chain.includes(e) && chain.length < MAX_CHAIN) {
    chain.push(e);
    e = e.cause;
  }
  return chain;
}

/** An error with a Node-style string `code` such as `ECONNREFUSED`. */
export type CodedError = Error & { code: string };

/**
 * The first error of the chain (see {@link errorChain}) with a Node-style
 * string `code`, which is what a network failure carries; `undefined` when
 * there is none (an answer from the peer, a local error).
 *
 * @example
 * ```ts
 * import { ConnectError } from "@connectrpc/connect";
 * import { networkError } from "./errors.ts";
 *
 * const refused = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
 * console.log(networkError(ConnectError.from(refused))?.code); // ECONNREFUSED
 * ```
 */
export function networkError(err: unknown): CodedError | undefined {
  return errorChain(err).find((e): e is CodedError =>
    typeof (e as { code?: unknown }).code === "string"
  );
}

/**
 * Whether an error of the chain has a Node-style string `code` matching.
 *
 * @example
 * ```ts
 * import { hasNodeErrorCode } from "./errors.ts";
 *
 * const err = Object.assign(new Error("write EPIPE"), { code: "EPIPE" });
 * console.log(hasNodeErrorCode(err, (code) => code === "EPIPE")); // true
 * ```
 */
export function hasNodeErrorCode(
  err: unknown,
  match: (code: string) => boolean,
): boolean {
  return errorChain(err).some((e) => {
    const code = (e as { code?: unknown }).code;
    return typeof code === "string" && match(code);
  });
}

/**
 * The first line of a text, trimmed: error messages may carry a stack or a
 * peer's multi-line text, and logs and users get one line.
 *
 * @example
 * ```ts
 * import { firstLine } from "./errors.ts";
 *
 * console.log(firstLine(" no genesis\n  at ...")); // "no genesis"
 * ```
 */
export function firstLine(text: string): string {
  return text.split("\n")[0].trim();
}

/**
 * The one-line message of an error of any kind (a thrown non-`Error` too).
 *
 * @example
 * ```ts
 * import { messageOf } from "./errors.ts";
 *
 * console.log(messageOf(new Error("cannot read\ndetails"))); // "cannot read"
 * console.log(messageOf("plain")); // "plain"
 * ```
 */
export function messageOf(err: unknown): string {
  return firstLine(err instanceof Error ? err.message : String(err));
}

/** Network failures by Node-style error code, in a user's words. */
const NETWORK_CAUSES: Readonly<Record<string, string>> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  EPIPE: "connection closed",
  ETIMEDOUT: "connection timed out",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  EADDRNOTAVAIL: "address not available",
  ENOTFOUND: "unknown host",
  EAI_AGAIN: "unknown host (name lookup failed)",
  EAI_NONAME: "unknown host",
};

/**
 * What went wrong on the network, in a few words (`connection refused`),
 * when an error of the chain is a network failure; `undefined` otherwise.
 *
 * @example
 * ```ts
 * import { networkCause } from "./errors.ts";
 *
 * const err = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
 * console.log(networkCause(new Error("call failed", { cause: err }))); // connection refused
 * ```
 */
export function networkCause(err: unknown): string | undefined {
  const e = networkError(err);
  return e && (NETWORK_CAUSES[e.code] ?? firstLine(e.message));
}

/**
 * An error's one-line message (see {@link messageOf}) without the file
 * paths Deno's file-system errors end with (`: open '/var/bcn/keys/ab'`)
 * nor their `(os error N)`: what is said to a client, who must not learn
 * the server's paths.
 *
 * @example
 * ```ts
 * import { messageWithoutPaths } from "./errors.ts";
 *
 * const e = new Error("Permission denied (os error 13): open '/srv/keys/ab12'");
 * console.log(messageWithoutPaths(e)); // "Permission denied"
 * ```
 */
export function messageWithoutPaths(err: unknown): string {
  return messageOf(err)
    .replace(/ \(os error \d+\)/g, "")
    .replace(/: [a-z_]+ '[^']*'(?: -> '[^']*')?$/i, "")
    .replace(/'\/[^']*'|"\/[^"]*"/g, "(path)");
}
