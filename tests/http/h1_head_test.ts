/**
 * The request-head parser (`h1_head.ts`) alone: request line, target bytes,
 * header fields, Host, keep-alive, body framing (Content-Length,
 * Transfer-Encoding), and where a head ends in bytes read in pieces.
 */
import { assert, assertEquals, assertThrows } from "../assert.ts";
import {
  framingOf,
  HeadError,
  indexOfHeadEnd,
  latin1,
  MAX_FIELDS,
  MAX_HEAD_BYTES,
  parseHead,
} from "../../src/http/h1_head.ts";

/** Asserts that `head` is refused with `status` and `part` in its message. */
function refused(head: string, status: number, part: string): void {
  const err = assertThrows(() => parseHead(head), HeadError, part) as HeadError;
  assertEquals(err.status, status, `${JSON.stringify(head)}: ${err.message}`);
  assert(!err.message.includes("\n"), err.message);
}

Deno.test("a head is parsed into method, URL, fields, framing and keep-alive", () => {
  const head = parseHead(
    "POST /Block/BlockReceive?x=1 HTTP/1.1\r\nHost: node:1122\r\n" +
      "Transfer-Encoding: chunked\r\nX-Empty:\r\nExpect: 100-Continue",
  );
  assertEquals(head.method, "POST");
  assertEquals(head.url, "http://node:1122/Block/BlockReceive?x=1");
  assertEquals(head.framing, { kind: "chunked" });
  assertEquals(head.header.get("x-empty"), "");
  assert(head.keepAlive);
  assert(!head.http10);
  assert(head.expectContinue);
  const old = parseHead("GET /a HTTP/1.0\r\nContent-Length: 3");
  assertEquals(old.url, "http://localhost/a");
  assertEquals(old.framing, { kind: "length", length: 3 });
  assert(!old.keepAlive);
  assert(old.http10);
  assert(!old.expectContinue);
  const closing = parseHead(
    "GET / HTTP/1.1\r\nHost: x\r\nConnection: Keep-Alive, close",
  );
  assert(!closing.keepAlive);
});

Deno.test("a malformed request line or target is 400", () => {
  for (
    const line of [
      "GET /  HTTP/1.1",
      "GET / HTTP/1.2",
      "G(T / HTTP/1.1",
      "GET / HTTP/1.1\nX: 1",
    ]
  ) refused(`${line}\r\nHost: x`, 400, "malformed request line");
  refused("GET / HTTP/2.0\r\nHost: x", 505, "HTTP/2 is not spoken here");
  // No HTTP/1 request at all: no answer (see HeadError.notHttp1).
  for (
    const line of ["GET / http/1.1", "GET /", "", "INVALID CONNECTION PREFACE"]
  ) {
    const e = assertThrows(
      () => parseHead(`${line}\r\nHost: x`),
      HeadError,
    ) as HeadError;
    assert(e.notHttp1, line);
  }
  for (
    const c of ["\x00", "\x01", "\t", "\x0b", "\x7f", "\x80", "\xa0", "\xff"]
  ) {
    refused(`GET /a${c}b HTTP/1.1\r\nHost: x`, 400, "request target");
  }
  refused("GET a HTTP/1.1\r\nHost: x", 400, "request target");
  refused("OPTIONS * HTTP/1.1\r\nHost: x", 400, "request target");
});

Deno.test("header fields: malformed ones are 400, more than MAX_FIELDS 431", () => {
  for (
    const field of ["X-A : 1", " X-A: 1", "X A: 1", "X-A", ": 1", "X-A: a\rb"]
  ) refused(`GET / HTTP/1.1\r\nHost: x\r\n${field}`, 400, "header field");
  refused(
    `GET / HTTP/1.1\r\nHost: x\r\n${"a: 1\r\n".repeat(MAX_FIELDS)}`.slice(
      0,
      -2,
    ),
    431,
    `more than ${MAX_FIELDS}`,
  );
  const many = parseHead(
    `GET / HTTP/1.1\r\nHost: x\r\n${"a: 1\r\n".repeat(MAX_FIELDS - 1)}`.slice(
      0,
      -2,
    ),
  );
  assertEquals(many.header.get("a")?.split(", ").length, MAX_FIELDS - 1);
});

Deno.test("Host: one in HTTP/1.1, at most one in HTTP/1.0, a plain host and port", () => {
  refused("GET / HTTP/1.1", 400, "without Host");
  refused("GET / HTTP/1.1\r\nX: y", 400, "without Host");
  refused("GET / HTTP/1.1\r\nHost: x\r\nhost: x", 400, "more than one Host");
  refused("GET / HTTP/1.0\r\nHost: x\r\nHOST: y", 400, "more than one Host");
  refused("GET / HTTP/1.1\r\nHost:", 400, "Host or request target");
  refused("GET / HTTP/1.1\r\nHost: x\\admin?", 400, "Host or request target");
  assertEquals(
    parseHead("GET / HTTP/1.1\r\nhOsT: [::1]:5").url,
    "http://[::1]:5/",
  );
  assertEquals(parseHead("GET /x HTTP/1.0").url, "http://localhost/x");
});

Deno.test("Transfer-Encoding: the bare token chunked, else 400 for bytes that are no list, 501 for codings", () => {
  const chunked = (te: string) =>
    framingOf(new Headers({ "transfer-encoding": te }), true);
  for (const te of ["chunked", "Chunked", "CHUNKED", " chunked\t"]) {
    assertEquals(chunked(te), { kind: "chunked" }, JSON.stringify(te));
  }
  for (
    const te of [
      "\x0bchunked",
      "\x0cchunked",
      "\xa0chunked",
      "chunked\x0b",
      "chunked\x0c",
      "chunk ed",
      "chunked;",
      "chunked; q",
      '"chunked"',
      ",",
      "\x01",
    ]
  ) {
    const err = assertThrows(() => chunked(te), HeadError, "malformed");
    assertEquals((err as HeadError).status, 400, JSON.stringify(te));
  }
  for (
    const te of [
      "gzip",
      "chunked, gzip",
      "gzip, chunked",
      "chunked, chunked",
      "chunked,",
      "chunked;q=1",
      "x-custom ; a = b",
    ]
  ) {
    const err = assertThrows(() => chunked(te), HeadError, "unsupported");
    assertEquals((err as HeadError).status, 501, JSON.stringify(te));
  }
  // HTTP/1.0 knows no chunks.
  assertThrows(
    () => framingOf(new Headers({ "transfer-encoding": "chunked" }), false),
    HeadError,
    "unsupported",
  );
  // Two fields are one list.
  refused(
    "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked",
    501,
    "unsupported",
  );
  refused(
    "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 1",
    400,
    "both",
  );
});

Deno.test("Content-Length: plain decimal digits, at most 15; zero is no body", () => {
  const framing = (cl: string) =>
    framingOf(new Headers({ "content-length": cl }), true);
  assertEquals(framing("0"), undefined);
  assertEquals(framing("00"), undefined);
  assertEquals(framing("17"), { kind: "length", length: 17 });
  assertEquals(framing("999999999999999"), {
    kind: "length",
    length: 999999999999999,
  });
  for (
    const cl of [
      "",
      "+2",
      "-2",
      "0x2",
      "1e3",
      "1.0",
      "1 2",
      "1, 1",
      "1".repeat(16),
    ]
  ) {
    const err = assertThrows(() => framing(cl), HeadError, "Content-Length");
    assertEquals((err as HeadError).status, 400, JSON.stringify(cl));
  }
  assertEquals(framingOf(new Headers(), true), undefined);
});

Deno.test("the end of a head is found however the bytes come in", () => {
  const text = "GET / HTTP/1.1\r\nHost: x\r\n\r\nnext";
  const bytes = Uint8Array.from(text, (c) => c.charCodeAt(0));
  assertEquals(indexOfHeadEnd(bytes, 0), 23);
  // Searched in pieces, each time from where the last search stopped.
  for (let cut = 1; cut < bytes.length; cut++) {
    const first = indexOfHeadEnd(bytes.subarray(0, cut), 0);
    const found = first >= 0 ? first : indexOfHeadEnd(bytes, cut - 3);
    assertEquals(found, 23, `cut at ${cut}`);
  }
  assertEquals(indexOfHeadEnd(bytes.subarray(0, 26), 0), -1);
  // Not searched past the largest head.
  const big = new Uint8Array(MAX_HEAD_BYTES + 10).fill(0x61);
  big.set([13, 10, 13, 10], MAX_HEAD_BYTES + 1);
  assertEquals(indexOfHeadEnd(big, 0), -1);
  big.set([13, 10, 13, 10], MAX_HEAD_BYTES);
  assertEquals(indexOfHeadEnd(big, 0), MAX_HEAD_BYTES);
});

Deno.test("latin1 keeps every byte as one char, also past one slice", () => {
  const bytes = new Uint8Array(20_000).map((_, i) => i % 256);
  const text = latin1(bytes);
  assertEquals(text.length, bytes.length);
  assert([...text].every((c, i) => c.charCodeAt(0) === i % 256));
});
