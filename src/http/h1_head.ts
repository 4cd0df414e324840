/**
 * The request head of HTTP/1.1 (RFC 9112): where it ends in the bytes read,
 * how its request line and header fields are parsed, and how its body is
 * framed. Pure functions of their input, so that they can be tested and
 * fuzzed without a socket; `h1_server.ts` uses them.
 *
 * @module
 */
import { requestUrl } from "./http_routes.ts";

/** A request head (request line and header fields) at most. */
export const MAX_HEAD_BYTES = 64 * 1024;
/**
 * Header fields of a request at most: adding a field to `Headers` costs
 * more the more it holds, so thousands of short fields in one head would
 * hold the main thread for a tenth of a second. A Connect call has about
 * ten.
 */
export const MAX_FIELDS = 128;
/**
 * Digits of a `Content-Length` at most: 15 decimal digits stay below
 * `Number.MAX_SAFE_INTEGER`, so the length is exact.
 */
const MAX_LENGTH_DIGITS = 15;
/** Characters of a client's value quoted back in an error at most. */
const MAX_QUOTED = 64;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Method, target and version; the target's bytes are checked apart. */
const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([^ ]+) HTTP\/1\.([01])$/;
/** A request target is visible ASCII only (RFC 9112 §3.2). */
const TARGET = /^[\x21-\x7e]+$/;
const FIELD_LINE = /^([^:]*):[ \t]*(.*?)[ \t]*$/;
/**
 * One transfer coding of a `Transfer-Encoding` list: a token and its
 * parameters, with token values (RFC 9112 §7).
 */
const TRANSFER_CODING =
  /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:[ \t]*;[ \t]*[!#$%&'*+\-.^_`|~0-9A-Za-z]+[ \t]*=[ \t]*[!#$%&'*+\-.^_`|~0-9A-Za-z]+)*$/;

/**
 * A request head the server cannot take, with the status to answer: 400
 * (malformed), 431 (too large) or 501 (a transfer coding it does not do).
 *
 * @example
 * ```ts
 * import { HeadError, parseHead } from "./h1_head.ts";
 *
 * try {
 *   parseHead("GET / HTTP/1.1");
 * } catch (e) {
 *   if (e instanceof HeadError) console.log(e.status, e.message); // 400 ...
 * }
 * ```
 */
export class HeadError extends Error {
  /** The HTTP status to answer: 400, 431, 501 or 505. */
  readonly status: 400 | 431 | 501 | 505;
  /**
   * The bytes are no HTTP/1 request at all (no `HTTP/d.d` ends the first
   * line): the connection is closed without an answer, as an HTTP/2-only
   * server closes one that does not start with its preface.
   */
  readonly notHttp1: boolean;

  /** A refusal with its status and one line saying what was wrong. */
  constructor(
    status: 400 | 431 | 501 | 505,
    message: string,
    notHttp1 = false,
  ) {
    super(message);
    this.name = "HeadError";
    this.status = status;
    this.notHttp1 = notHttp1;
  }
}

/**
 * How a request's body is framed: a length, or chunks; a request without
 * a body has none.
 *
 * @example
 * ```ts
 * import type { BodyFraming } from "./h1_head.ts";
 *
 * const framing: BodyFraming = { kind: "length", length: 2 };
 * console.log(framing.kind); // "length"
 * ```
 */
export type BodyFraming =
  | { kind: "length"; length: number }
  | { kind: "chunked" };

/**
 * A parsed request head.
 *
 * @example
 * ```ts
 * import { type Head, parseHead } from "./h1_head.ts";
 *
 * const head: Head = parseHead("GET /healthz HTTP/1.1\r\nHost: x");
 * console.log(head.url); // "http://x/healthz"
 * ```
 */
export interface Head {
  /** The method, e.g. `POST`. */
  method: string;
  /** The whole URL, from `Host` (`localhost` for HTTP/1.0 without one). */
  url: string;
  /** The header fields. */
  header: Headers;
  /** The body's framing; undefined when there is no body. */
  framing: BodyFraming | undefined;
  /** Whether the connection may serve another request after this one. */
  keepAlive: boolean;
  /** Whether the request is HTTP/1.0. */
  http10: boolean;
  /** Whether the client waits for `100 Continue` before its body. */
  expectContinue: boolean;
}

/**
 * Parses a request head: its bytes as a latin1 string (see {@link latin1}),
 * without the CRLF CRLF that ends it. Throws a {@link HeadError} for a head
 * the server must refuse; never anything else.
 *
 * @example
 * ```ts
 * import { parseHead } from "./h1_head.ts";
 *
 * const head = parseHead(
 *   "POST /Block/GenesisSync HTTP/1.1\r\nHost: x\r\nContent-Length: 2",
 * );
 * console.log(head.method, head.framing); // POST { kind: "length", length: 2 }
 * ```
 */
export function parseHead(text: string): Head {
  const lines = text.split("\r\n");
  const m = REQUEST_LINE.exec(lines[0]);
  if (!m) {
    // Up to a bare LF, which another parser would take for the line's end.
    const version = / HTTP\/(\d)\.\d$/.exec(lines[0].split("\n")[0]);
    if (!version) throw new HeadError(400, "not an HTTP/1 request", true);
    if (version[1] !== "1") {
      throw new HeadError(505, `HTTP/${version[1]} is not spoken here`);
    }
    throw new HeadError(400, "malformed request line");
  }
  const [, method, target, minor] = m;
  // A control character or a byte above 0x7e in the target could be read
  // differently by another parser on the way.
  if (!TARGET.test(target)) {
    throw new HeadError(400, "request target with a byte outside 0x21-0x7e");
  }
  if (lines.length - 1 > MAX_FIELDS) {
    throw new HeadError(431, `more than ${MAX_FIELDS} header fields`);
  }
  const header = new Headers();
  let hosts = 0;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    // obs-fold, a space before the colon, a bare CR or LF: all refused.
    const f = FIELD_LINE.exec(line);
    if (!f || !TOKEN.test(f[1])) {
      throw new HeadError(
        400,
        `malformed header field ${quote(line)}`,
      );
    }
    if (f[1].length === 4 && f[1].toLowerCase() === "host") hosts++;
    try {
      header.append(f[1], f[2]);
    } catch {
      throw new HeadError(400, `invalid header field ${quote(f[1])}`);
    }
  }
  // RFC 9112 §3.2: exactly one Host in HTTP/1.1; HTTP/1.0 may have none.
  if (hosts > 1) throw new HeadError(400, "more than one Host field");
  if (hosts === 0 && minor === "1") {
    throw new HeadError(400, "HTTP/1.1 request without Host");
  }
  const framing = framingOf(header, minor === "1");
  // HTTP/1.0 connections are not kept (their keep-alive is an extension).
  const keepAlive = minor === "1" &&
    !(header.get("connection") ?? "").toLowerCase().split(",")
      .some((t) => t.trim() === "close");
  const url = requestUrl(header.get("host") ?? "localhost", target);
  if (url === undefined) throw new HeadError(400, "Host or request target");
  return {
    method,
    url,
    header,
    framing,
    keepAlive,
    http10: minor === "0",
    expectContinue:
      (header.get("expect") ?? "").toLowerCase() === "100-continue" &&
      minor === "1",
  };
}

/**
 * The body framing that the header fields of a request ask for; throws a
 * {@link HeadError} when it is unclear. Only the single coding `chunked`
 * is taken (in HTTP/1.1): a request with both `Content-Length` and
 * `Transfer-Encoding`, or with a coding the server does not do, could hide
 * a second request in its body for a parser that reads it another way.
 *
 * @example
 * ```ts
 * import { framingOf } from "./h1_head.ts";
 *
 * framingOf(new Headers({ "transfer-encoding": "chunked" }), true);
 * // { kind: "chunked" }
 * framingOf(new Headers({ "content-length": "0" }), true); // undefined
 * ```
 */
export function framingOf(
  header: Headers,
  http11: boolean,
): BodyFraming | undefined {
  const te = header.get("transfer-encoding");
  const cl = header.get("content-length");
  if (te !== null) {
    if (cl !== null) {
      throw new HeadError(400, "both Content-Length and Transfer-Encoding");
    }
    // `Headers` has stripped SP and HTAB around the value (and joined
    // repeated fields with ", "): anything but the bare token is no
    // `chunked`. String.trim() would also strip VT, FF or NBSP, which
    // other parsers keep.
    if (http11 && te.toLowerCase() === "chunked") return { kind: "chunked" };
    if (!isCodingList(te)) {
      throw new HeadError(400, `malformed Transfer-Encoding ${quote(te)}`);
    }
    throw new HeadError(501, `unsupported Transfer-Encoding ${quote(te)}`);
  }
  if (cl === null) return undefined;
  if (!/^\d+$/.test(cl) || cl.length > MAX_LENGTH_DIGITS) {
    throw new HeadError(400, `bad Content-Length ${quote(cl)}`);
  }
  const length = Number(cl);
  return length === 0 ? undefined : { kind: "length", length };
}

/** Whether `value` is a list of transfer codings (empty elements allowed). */
function isCodingList(value: string): boolean {
  let codings = 0;
  for (const element of value.split(",")) {
    const coding = element.replace(/^[ \t]+|[ \t]+$/g, "");
    if (coding === "") continue;
    if (!TRANSFER_CODING.test(coding)) return false;
    codings++;
  }
  return codings > 0;
}

/**
 * Where the first CRLF CRLF at or after `from` starts in `buf`, or -1 when
 * none starts within the first {@link MAX_HEAD_BYTES} + 1 bytes. A caller
 * that reads a head in pieces passes as `from` how far it searched before,
 * less 3, so that each byte is searched about once.
 *
 * @example
 * ```ts
 * import { indexOfHeadEnd } from "./h1_head.ts";
 *
 * const bytes = new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n");
 * console.log(indexOfHeadEnd(bytes, 0)); // 14
 * ```
 */
export function indexOfHeadEnd(buf: Uint8Array, from: number): number {
  const limit = Math.min(buf.length, MAX_HEAD_BYTES + 4);
  for (let i = Math.max(0, from) + 3; i < limit; i++) {
    if (
      buf[i] === 10 && buf[i - 1] === 13 && buf[i - 2] === 10 &&
      buf[i - 3] === 13
    ) return i - 3;
  }
  return -1;
}

/** Bytes at most turned into a string by one `String.fromCharCode` call. */
const LATIN1_SLICE = 8192;

/**
 * Bytes as a string of the same char codes (an HTTP head is bytes, not
 * UTF-8).
 *
 * @example
 * ```ts
 * import { latin1 } from "./h1_head.ts";
 *
 * console.log(latin1(Uint8Array.of(0x47, 0xe9))); // "Gé"
 * ```
 */
export function latin1(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += LATIN1_SLICE) {
    s += String.fromCharCode(...bytes.subarray(i, i + LATIN1_SLICE));
  }
  return s;
}

/** A client's value, cut short and quoted, for an error line. */
function quote(value: string): string {
  return JSON.stringify(value.slice(0, MAX_QUOTED));
}
