/**
 * Who may call the RPCs that use the node's key store (`TxSign`,
 * `AccountCreate`): the node's own machine (127.0.0.1 and ::1 exactly) plus
 * what `--allow-keys-from` adds; every other RPC stays open, so peers are
 * unaffected. The client address is the connection's TCP peer address
 * (`call_context.ts`); headers such as `X-Forwarded-For` are ignored, since
 * any client can send them.
 *
 * @module
 */
import { Code, ConnectError, type ContextValues } from "@connectrpc/connect";
import { AddressList } from "../http/address_list.ts";
import { CLIENT_ADDRESS } from "./call_context.ts";

/** The addresses always allowed: the node's own machine. */
export const LOCAL_ADDRESSES: readonly string[] = ["127.0.0.1", "::1"];

/** The `bcn node start` flag that widens {@link KeyAccess}. */
export const ALLOW_KEYS_FLAG = "--allow-keys-from";

const LOCAL = AddressList.of(LOCAL_ADDRESSES);

/**
 * The rule for the key-store calls: local clients, plus an operator's list.
 *
 * @example
 * ```ts
 * import { createContextValues } from "@connectrpc/connect";
 * import { AddressList } from "../http/address_list.ts";
 * import { CLIENT_ADDRESS } from "./call_context.ts";
 * import { KeyAccess } from "./key_access.ts";
 * const access = new KeyAccess(AddressList.parse("10.0.0.0/8"));
 * access.allows("10.1.2.3"); // true
 * access.check(createContextValues().set(CLIENT_ADDRESS, "::1"), "TxSign");
 * ```
 */
export class KeyAccess {
  /** The addresses allowed besides {@link LOCAL_ADDRESSES}. */
  readonly extra: AddressList;

  /**
   * Local clients only, unless `extra` adds addresses or ranges.
   *
   * @example
   * ```ts
   * import { AddressList } from "../http/address_list.ts";
   * import { KeyAccess } from "./key_access.ts";
   * const access = new KeyAccess(AddressList.parse("192.168.1.5"));
   * ```
   */
  constructor(extra: AddressList = AddressList.of([])) {
    this.extra = extra;
  }

  /**
   * Whether `extra` lets in anything beyond the node's own machine (the node
   * then warns at start).
   *
   * @example
   * ```ts
   * import { AddressList } from "../http/address_list.ts";
   * import { KeyAccess } from "./key_access.ts";
   * new KeyAccess(AddressList.parse("::1")).widened; // false
   * ```
   */
  get widened(): boolean {
    return !this.extra.within(LOCAL);
  }

  /**
   * Whether a client at `address` may call the key-store RPCs.
   *
   * @example
   * ```ts
   * import { KeyAccess } from "./key_access.ts";
   * new KeyAccess().allows("127.0.0.2"); // false
   * ```
   */
  allows(address: string | undefined): boolean {
    return LOCAL.includes(address) || this.extra.includes(address);
  }

  /**
   * Throws PermissionDenied, with one line saying how to allow the client,
   * unless the client of the call (its {@link CLIENT_ADDRESS}) is allowed.
   *
   * @example
   * ```ts
   * import { createContextValues } from "@connectrpc/connect";
   * import { messageOf } from "../util/errors.ts";
   * import { CLIENT_ADDRESS } from "./call_context.ts";
   * import { KeyAccess } from "./key_access.ts";
   * const values = createContextValues().set(CLIENT_ADDRESS, "10.0.0.7");
   * try {
   *   new KeyAccess().check(values, "TxSign");
   * } catch (e) {
   *   console.log(messageOf(e));
   * }
   * ```
   */
  check(values: ContextValues, call: string): void {
    const client = values.get(CLIENT_ADDRESS);
    if (this.allows(client)) return;
    const who = client ?? "a client of unknown address";
    const allowed = [
      ...LOCAL_ADDRESSES,
      ...(this.extra.size ? [this.extra] : []),
    ]
      .join(", ");
    const how = client === undefined
      ? `call it from the node's machine`
      : `call it from the node's machine, or start the node with ${ALLOW_KEYS_FLAG} ${
        this.extra.size ? `${this.extra},${client}` : client
      }`;
    throw new ConnectError(
      `${call} uses the node's key store and is served only to ${allowed}, not to ${who}: ${how}`,
      Code.PermissionDenied,
    );
  }
}
