/**
 * Canonical JSON ("Go JSON", `docs/FORMAT.md`, section 1): the only place
 * that turns chain values into text and back. Encoding mirrors Go's compact
 * `encoding/json`; decoding is strict: every u64 stays a `bigint`, times
 * (`time.ts`) keep their nanoseconds and offset, and an error names the
 * field that was missing or malformed.
 *
 * @module
 */

/** An error in decoding chain data; the message names the offending field. */
export class DecodeError extends Error {
  /** Creates a decode error for `path` (such as `tx.value`). */
  constructor(path: string, problem: string) {
    super(path ? `${path}: ${problem}` : problem);
    this.name = "DecodeError";
  }
}

/** The largest unsigned 64-bit integer. */
export const U64_MAX: bigint = (1n << 64n) - 1n;

// ---------------------------------------------------------------- encoding

const HEX = "0123456789abcdef";

/**
 * Encodes a string as Go's `encoding/json` does, HTML characters and
 * U+2028/U+2029 escaped. Throws on a lone surrogate, which Go never writes.
 *
 * @example
 * ```ts
 * import { encodeString } from "./json.ts";
 * encodeString("a<b"); // "\"a\\u003cb\""
 * ```
 */
export function encodeString(s: string): string {
  if (!s.isWellFormed()) {
    throw new RangeError("cannot encode a string holding a lone surrogate");
  }
  let out = '"';
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let esc: string | undefined;
    if (c < 0x20) {
      switch (c) {
        case 0x08:
          esc = "\\b";
          break;
        case 0x0c:
          esc = "\\f";
          break;
        case 0x0a:
          esc = "\\n";
          break;
        case 0x0d:
          esc = "\\r";
          break;
        case 0x09:
          esc = "\\t";
          break;
        default:
          esc = "\\u00" + HEX[c >> 4] + HEX[c & 15];
      }
    } else if (c === 0x22) esc = '\\"';
    else if (c === 0x5c) esc = "\\\\";
    else if (c === 0x3c) esc = "\\u003c";
    else if (c === 0x3e) esc = "\\u003e";
    else if (c === 0x26) esc = "\\u0026";
    else if (c === 0x2028) esc = "\\u2028";
    else if (c === 0x2029) esc = "\\u2029";
    if (esc !== undefined) {
      out += s.slice(start, i) + esc;
      start = i + 1;
    }
  }
  return out + s.slice(start) + '"';
}

/** Encodes a u64 as plain decimal; throws when out of range. */
export function encodeU64(n: bigint): string {
  if (typeof n !== "bigint" || n < 0n || n > U64_MAX) {
    throw new RangeError(`not an unsigned 64-bit integer: ${n}`);
  }
  return n.toString();
}

/** Encodes bytes as a JSON string of standard padded base64. */
export function encodeBytes(b: Uint8Array): string {
  return '"' + toBase64(b) + '"';
}

/** Standard base64 with padding (RFC 4648 section 4). */
export function toBase64(b: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < b.length; i += 0x8000) {
    bin += String.fromCharCode(...b.subarray(i, i + 0x8000));
  }
  return btoa(bin);
}

/** Lowercase hex of bytes. */
export function toHex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += HEX[x >> 4] + HEX[x & 15];
  return s;
}

/** Compares strings by code point, which is the byte order of their UTF-8. */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x - y;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

// ---------------------------------------------------------------- decoding

/**
 * A JSON number kept as its source text, so no precision is lost. The text
 * may have leading zeros (`01`), which strict JSON forbids: readers must
 * validate it.
 */
export class JsonNumber {
  /** Wraps the number's literal text. */
  constructor(readonly text: string) {}
}

/** A parsed JSON value: numbers stay as text, objects are Maps. */
export type JsonValue =
  | null
  | boolean
  | string
  | JsonNumber
  | JsonValue[]
  | Map<string, JsonValue>;

// Strict, unlike util/utf8.ts: invalid UTF-8 in chain data is an error.
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Parses JSON text or UTF-8 bytes strictly: invalid UTF-8, lone surrogates,
 * raw control characters and trailing data are errors.
 */
export function parseJson(input: string | Uint8Array, what = ""): JsonValue {
  let text: string;
  if (typeof input === "string") {
    text = input;
  } else {
    try {
      text = decoder.decode(input);
    } catch {
      throw new DecodeError(what, "invalid UTF-8");
    }
  }
  if (!text.isWellFormed()) {
    throw new DecodeError(what, "string holds a lone surrogate");
  }
  const p = new Parser(text, what);
  p.ws();
  const v = p.value(0);
  p.ws();
  if (p.i !== text.length) p.fail("unexpected data after JSON value");
  return v;
}

const MAX_DEPTH = 64;

class Parser {
  i = 0;
  constructor(readonly s: string, readonly what: string) {}

  fail(msg: string): never {
    throw new DecodeError(
      this.what,
      `invalid JSON at offset ${this.i}: ${msg}`,
    );
  }

  ws(): void {
    const s = this.s;
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.i++;
      else break;
    }
  }

  value(depth: number): JsonValue {
    if (depth > MAX_DEPTH) this.fail("nested too deeply");
    const c = this.s[this.i];
    if (c === "{") return this.object(depth);
    if (c === "[") return this.array(depth);
    if (c === '"') return this.string();
    if (c === "-" || (c >= "0" && c <= "9")) return this.number();
    for (const [lit, v] of [["true", true], ["false", false], ["null", null]]) {
      if (this.s.startsWith(lit as string, this.i)) {
        this.i += (lit as string).length;
        return v as JsonValue;
      }
    }
    return this.fail(c === undefined ? "unexpected end" : "unexpected token");
  }

  object(depth: number): Map<string, JsonValue> {
    const m = new Map<string, JsonValue>();
    this.i++;
    this.ws();
    if (this.s[this.i] === "}") {
      this.i++;
      return m;
    }
    for (;;) {
      this.ws();
      if (this.s[this.i] !== '"') this.fail("expected a field name");
      const k = this.string();
      this.ws();
      if (this.s[this.i] !== ":") this.fail("expected ':'");
      this.i++;
      this.ws();
      m.set(k, this.value(depth + 1));
      this.ws();
      const c = this.s[this.i++];
      if (c === "}") return m;
      if (c !== ",") this.fail("expected ',' or '}'");
    }
  }

  array(depth: number): JsonValue[] {
    const a: JsonValue[] = [];
    this.i++;
    this.ws();
    if (this.s[this.i] === "]") {
      this.i++;
      return a;
    }
    for (;;) {
      this.ws();
      a.push(this.value(depth + 1));
      this.ws();
      const c = this.s[this.i++];
      if (c === "]") return a;
      if (c !== ",") this.fail("expected ',' or ']'");
    }
  }

  string(): string {
    const s = this.s;
    let out = "";
    let start = ++this.i;
    for (;;) {
      if (this.i >= s.length) this.fail("unterminated string");
      const c = s.charCodeAt(this.i);
      if (c === 0x22) {
        out += s.slice(start, this.i++);
        return out;
      }
      if (c < 0x20) this.fail("control character in string");
      if (c !== 0x5c) {
        this.i++;
        continue;
      }
      out += s.slice(start, this.i);
      const e = s[this.i + 1];
      this.i += 2;
      switch (e) {
        case '"':
        case "\\":
        case "/":
          out += e;
          break;
        case "b":
          out += "\b";
          break;
        case "f":
          out += "\f";
          break;
        case "n":
          out += "\n";
          break;
        case "r":
          out += "\r";
          break;
        case "t":
          out += "\t";
          break;
        case "u": {
          const hi = this.hex4();
          if (hi >= 0xd800 && hi <= 0xdbff) {
            if (s[this.i] !== "\\" || s[this.i + 1] !== "u") {
              this.fail("lone surrogate escape");
            }
            this.i += 2;
            const lo = this.hex4();
            if (lo < 0xdc00 || lo > 0xdfff) this.fail("lone surrogate escape");
            out += String.fromCharCode(hi, lo);
          } else if (hi >= 0xdc00 && hi <= 0xdfff) {
            this.fail("lone surrogate escape");
          } else {
            out += String.fromCharCode(hi);
          }
          break;
        }
        default:
          this.fail("invalid escape");
      }
      start = this.i;
    }
  }

  hex4(): number {
    const h = this.s.slice(this.i, this.i + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) this.fail("invalid \\u escape");
    this.i += 4;
    return parseInt(h, 16);
  }

  number(): JsonNumber {
    // Leading zeros are lexed here so that the typed reader rejects them
    // with an error naming the field; every reader of JsonNumber checks
    // its text.
    const m = /^-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(
      this.s.slice(this.i, this.i + 400),
    );
    if (!m) this.fail("invalid number");
    this.i += m[0].length;
    return new JsonNumber(m[0]);
  }
}

// ------------------------------------------------- typed field accessors

/** A decoded JSON object with typed, path-aware field readers. */
export class Fields {
  /** Wraps `v`, which must be an object, found at `path`. */
  constructor(v: JsonValue, readonly path: string) {
    if (!(v instanceof Map)) throw new DecodeError(path, "expected an object");
    this.map = v;
  }
  private readonly map: Map<string, JsonValue>;

  /** The path of field `name`, for error messages. */
  at(name: string): string {
    return this.path ? `${this.path}.${name}` : name;
  }

  /** The raw value of a required field. */
  raw(name: string): JsonValue {
    const v = this.map.get(name);
    if (v === undefined || v === null) {
      throw new DecodeError(this.at(name), "missing");
    }
    return v;
  }

  /** A string field. */
  string(name: string): string {
    return asString(this.raw(name), this.at(name));
  }

  /** A u64 field. */
  u64(name: string): bigint {
    return asU64(this.raw(name), this.at(name));
  }

  /** A 32-byte hash field, returned as 64 lowercase hex characters. */
  hash(name: string): string {
    return asHash(this.raw(name), this.at(name));
  }

  /** A base64 byte-string field. */
  bytes(name: string): Uint8Array {
    return asBytes(this.raw(name), this.at(name));
  }

  /** An array field. */
  array(name: string): JsonValue[] {
    const v = this.raw(name);
    if (!Array.isArray(v)) {
      throw new DecodeError(this.at(name), "expected an array");
    }
    return v;
  }

  /** An object field, as a Map. */
  object(name: string): Map<string, JsonValue> {
    const v = this.raw(name);
    if (!(v instanceof Map)) {
      throw new DecodeError(this.at(name), "expected an object");
    }
    return v;
  }
}

/** Reads a JSON string. */
export function asString(v: JsonValue, path: string): string {
  if (typeof v !== "string") throw new DecodeError(path, "expected a string");
  return v;
}

/** Reads a u64 from a JSON number: no sign, fraction, exponent or overflow. */
export function asU64(v: JsonValue, path: string): bigint {
  if (!(v instanceof JsonNumber) || !/^(?:0|[1-9]\d{0,19})$/.test(v.text)) {
    throw new DecodeError(path, "expected an unsigned 64-bit integer");
  }
  const n = BigInt(v.text);
  if (n > U64_MAX) {
    throw new DecodeError(path, "expected an unsigned 64-bit integer");
  }
  return n;
}

/** Reads exactly 64 hex characters of either case; returns lowercase. */
export function asHash(v: JsonValue, path: string): string {
  if (typeof v !== "string" || !/^[0-9a-fA-F]{64}$/.test(v)) {
    throw new DecodeError(path, "expected a hash of 64 hex characters");
  }
  return v.toLowerCase();
}

/** Checks a hash given as text (a CLI flag, an RPC field); returns lowercase. */
export function parseHash(s: string, path = "hash"): string {
  return asHash(s, path);
}

const B64_RE =
  /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Reads standard padded base64. */
export function asBytes(v: JsonValue, path: string): Uint8Array {
  if (typeof v !== "string" || !B64_RE.test(v)) {
    throw new DecodeError(path, "expected standard base64");
  }
  const bin = atob(v);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Parses `input` and wraps it as an object at `path`. */
export function parseObject(input: string | Uint8Array, path: string): Fields {
  return new Fields(parseJson(input, path), path);
}
