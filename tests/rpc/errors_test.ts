import { assert, assertEquals } from "../assert.ts";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  describePeerError,
  errorChain,
  firstLine,
  hasNodeErrorCode,
  messageOf,
  networkError,
  withoutAddr,
} from "../../src/rpc/errors.ts";

Deno.test("describePeerError names the peer in one line", () => {
  const err = new ConnectError("no genesis\nsecond line", Code.NotFound);
  assertEquals(
    describePeerError("10.0.0.1:1122", err),
    "peer 10.0.0.1:1122: not_found: no genesis",
  );
  assertEquals(describePeerError("h:1", new Error("boom")), "peer h:1: boom");
  assertEquals(describePeerError("h:1", "text\nmore"), "peer h:1: text");
  const refused = Object.assign(new Error("connect ECONNREFUSED h:1"), {
    code: "ECONNREFUSED",
  });
  assertEquals(
    describePeerError("h:1", refused),
    "peer h:1: connect ECONNREFUSED",
  );
});

Deno.test("errorChain follows causes, stops at cycles and non-errors", () => {
  const inner = new Error("inner", { cause: "a string" });
  const outer = new Error("outer", { cause: inner });
  assertEquals(errorChain(outer).map((e) => e.message), ["outer", "inner"]);
  const a = new Error("a");
  const b = new Error("b", { cause: a });
  a.cause = b;
  assertEquals(errorChain(a).map((e) => e.message), ["a", "b"]);
  assertEquals(errorChain("not an error"), []);
  let deep = new Error("0");
  for (let i = 1; i < 40; i++) deep = new Error(String(i), { cause: deep });
  assertEquals(errorChain(deep).length, 16);
});

Deno.test("networkError finds the coded error in the chain", () => {
  const refused = Object.assign(new Error("connect ECONNREFUSED"), {
    code: "ECONNREFUSED",
  });
  const wrapped = new ConnectError(
    "unavailable",
    Code.Unavailable,
    undefined,
    undefined,
    refused,
  );
  assertEquals(networkError(wrapped), refused);
  assert(hasNodeErrorCode(wrapped, (c) => c === "ECONNREFUSED"));
  assert(!hasNodeErrorCode(wrapped, (c) => c === "EPIPE"));
  assertEquals(networkError(new ConnectError("no", Code.NotFound)), undefined);
  // A numeric code (as a ConnectError's) is not a network code.
  assertEquals(
    networkError(Object.assign(new Error("x"), { code: 5 })),
    undefined,
  );
});

Deno.test("firstLine, messageOf and withoutAddr keep one line", () => {
  assertEquals(firstLine("  a\nb\nc"), "a");
  assertEquals(messageOf(new Error("x\ny")), "x");
  assertEquals(messageOf(42), "42");
  assertEquals(
    withoutAddr("connect ECONNREFUSED h:1", "h:1"),
    "connect ECONNREFUSED",
  );
  assertEquals(withoutAddr("refused by h:12", "h:1"), "refused by h:12");
});
