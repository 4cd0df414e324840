/**
 * What the server puts into each call's context for the handlers: the
 * client's address, which the key-store access policy (`key_access.ts`)
 * reads.
 *
 * @module
 */
import { type ContextKey, createContextKey } from "@connectrpc/connect";

/**
 * The client address of a call (the connection's peer address, IPv4-mapped
 * IPv6 turned into plain IPv4), set by the server; `undefined` when unknown.
 *
 * @example
 * ```ts
 * import { createContextValues } from "@connectrpc/connect";
 * import { CLIENT_ADDRESS } from "./call_context.ts";
 * const values = createContextValues().set(CLIENT_ADDRESS, "127.0.0.1");
 * values.get(CLIENT_ADDRESS); // "127.0.0.1"
 * ```
 */
export const CLIENT_ADDRESS: ContextKey<string | undefined> = createContextKey<
  string | undefined
>(undefined, { description: "the client address of a bcn call" });
