/**
 * Lists of IP addresses and CIDR ranges (`10.0.0.0/8,192.168.1.5,fd00::/8`),
 * and a connection's client address as a server sees it. IPv4 and IPv6 share
 * one space: an IPv4 address is `::ffff:a.b.c.d`, so `127.0.0.1` and
 * `::ffff:127.0.0.1` (what a dual-stack listener reports) are the same.
 *
 * @module
 */

/** One address or CIDR range of an {@link AddressList}. */
interface Range {
  /** The text given, e.g. `10.0.0.0/8`. */
  text: string;
  /** The network, as 16 bytes (IPv4 mapped into IPv6). */
  bytes: Uint8Array;
  /** Prefix length in bits over the 16 bytes. */
  bits: number;
}

/** A list of IP addresses and CIDR ranges that an address can be checked against. */
export class AddressList {
  readonly #ranges: Range[];

  private constructor(ranges: Range[]) {
    this.#ranges = ranges;
  }

  /**
   * Parses a comma-separated list of IPv4 or IPv6 addresses and CIDR ranges.
   * Throws a one-line Error naming the first entry that is not one.
   *
   * @example
   * ```ts
   * import { AddressList } from "./address_list.ts";
   * const list = AddressList.parse("10.0.0.0/8,192.168.1.5");
   * list.includes("10.1.2.3"); // true
   * list.includes("192.168.1.6"); // false
   * ```
   */
  static parse(text: string): AddressList {
    const entries = text.split(",").map((e) => e.trim());
    if (entries.length === 1 && entries[0] === "") return new AddressList([]);
    return new AddressList(entries.map(parseRange));
  }

  /**
   * The list of the given entries (each an address or a CIDR range).
   *
   * @example
   * ```ts
   * import { AddressList } from "./address_list.ts";
   * AddressList.of(["127.0.0.1", "::1"]).includes("::ffff:127.0.0.1"); // true
   * ```
   */
  static of(entries: readonly string[]): AddressList {
    return new AddressList(entries.map((e) => parseRange(e.trim())));
  }

  /**
   * Whether `address` (an IPv4 or IPv6 address, IPv4-mapped or not) is in the
   * list; `false` for `undefined` or anything that is not an IP address.
   *
   * @example
   * ```ts
   * import { AddressList } from "./address_list.ts";
   * AddressList.parse("fd00::/8").includes("fd12::1"); // true
   * ```
   */
  includes(address: string | undefined): boolean {
    if (address === undefined) return false;
    const bytes = ipBytes(address);
    if (bytes === undefined) return false;
    return this.#ranges.some((r) => inRange(bytes, r));
  }

  /**
   * Whether every address this list allows is one of `others`' addresses,
   * i.e. the list widens nothing beyond `others`.
   *
   * @example
   * ```ts
   * import { AddressList } from "./address_list.ts";
   * const local = AddressList.of(["127.0.0.1", "::1"]);
   * AddressList.parse("::ffff:127.0.0.1").within(local); // true
   * AddressList.parse("127.0.0.0/8").within(local); // false
   * ```
   */
  within(others: AddressList): boolean {
    return this.#ranges.every((r) =>
      others.#ranges.some((o) => o.bits <= r.bits && inRange(r.bytes, o))
    );
  }

  /**
   * The entries as given (trimmed), comma-separated.
   *
   * @example
   * ```ts
   * import { AddressList } from "./address_list.ts";
   * String(AddressList.parse("10.0.0.0/8, ::1")); // "10.0.0.0/8,::1"
   * ```
   */
  toString(): string {
    return this.#ranges.map((r) => r.text).join(",");
  }

  /**
   * The number of entries.
   *
   * @example
   * ```ts
   * import { AddressList } from "./address_list.ts";
   * AddressList.parse("").size; // 0
   * ```
   */
  get size(): number {
    return this.#ranges.length;
  }
}

/**
 * The client address of a connection as a server reports it, in its usual
 * text form: an IPv4-mapped IPv6 address (`::ffff:127.0.0.1`) becomes plain
 * IPv4 (`127.0.0.1`), IPv6 is lowercased; `undefined` stays `undefined`.
 *
 * @example
 * ```ts
 * import { clientAddress } from "./address_list.ts";
 * clientAddress("::ffff:127.0.0.1"); // "127.0.0.1"
 * ```
 */
export function clientAddress(
  remoteAddress: string | undefined,
): string | undefined {
  if (remoteAddress === undefined || remoteAddress === "") return undefined;
  const lower = remoteAddress.toLowerCase();
  const bytes = lower.includes(":") ? parseIpv6(lower) : undefined;
  if (bytes !== undefined && isMappedIpv4(bytes)) {
    return bytes.subarray(12).join(".");
  }
  return lower;
}

function isMappedIpv4(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

function parseRange(text: string): Range {
  const slash = text.indexOf("/");
  const ip = slash < 0 ? text : text.slice(0, slash);
  const bytes = ipBytes(ip);
  if (bytes === undefined) {
    throw new Error(
      `invalid address ${
        JSON.stringify(text)
      }: expected an IPv4 or IPv6 address or a CIDR range such as 10.0.0.0/8`,
    );
  }
  const isV4 = !ip.includes(":");
  const max = isV4 ? 32 : 128;
  let bits = max;
  if (slash >= 0) {
    const prefix = text.slice(slash + 1);
    bits = /^\d{1,3}$/.test(prefix) ? Number(prefix) : NaN;
    if (!(bits <= max)) {
      throw new Error(
        `invalid address ${
          JSON.stringify(text)
        }: the prefix length must be 0 to ${max}`,
      );
    }
  }
  const total = isV4 ? bits + 96 : bits;
  return { text, bytes: masked(bytes, total), bits: total };
}

function masked(bytes: Uint8Array, bits: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    out[i] &= (0xff << (8 - keep)) & 0xff;
  }
  return out;
}

function inRange(bytes: Uint8Array, range: Range): boolean {
  const m = masked(bytes, range.bits);
  for (let i = 0; i < 16; i++) if (m[i] !== range.bytes[i]) return false;
  return true;
}

/**
 * An IPv4 or IPv6 address as 16 bytes (IPv4 as the IPv4-mapped IPv6
 * address), or `undefined` for anything that is not one: the one address
 * parser of the RPC layer.
 *
 * @example
 * ```ts
 * import { ipBytes } from "./address_list.ts";
 * ipBytes("::ffff:10.0.0.7"); // the same 16 bytes as ipBytes("10.0.0.7")
 * ipBytes("10.0.0"); // undefined
 * ```
 */
export function ipBytes(text: string): Uint8Array | undefined {
  if (!text.includes(":")) {
    const v4 = parseIpv4(text);
    if (v4 === undefined) return undefined;
    const out = new Uint8Array(16);
    out[10] = 0xff;
    out[11] = 0xff;
    out.set(v4, 12);
    return out;
  }
  return parseIpv6(text);
}

function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    // Decimal only, no leading zeros: "010" is octal to some parsers.
    if (!/^(?:0|[1-9]\d{0,2})$/.test(parts[i])) return undefined;
    const n = Number(parts[i]);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

function parseIpv6(text: string): Uint8Array | undefined {
  if (text.length > 45 || text.includes("%")) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groups = (s: string): number[] | undefined => {
    if (s === "") return [];
    const out: number[] = [];
    const parts = s.split(":");
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if (i === parts.length - 1 && p.includes(".")) {
        const v4 = parseIpv4(p);
        if (v4 === undefined) return undefined;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) {
        out.push(parseInt(p, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (head === undefined || tail === undefined) return undefined;
  // An embedded IPv4 address may only end the address.
  if (halves.length === 2 && halves[0].includes(".")) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const all = [...head, ...new Array<number>(missing).fill(0), ...tail];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}
