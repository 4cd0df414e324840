import { assert, assertEquals } from "../assert.ts";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  errorChain,
  firstLine,
  hasNodeErrorCode,
  messageOf,
  messageWithoutPaths,
  networkCause,
  networkError,
} from "../../src/util/errors.ts";

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

Deno.test("firstLine and messageOf keep one line", () => {
  assertEquals(firstLine("  a\nb\nc"), "a");
  assertEquals(messageOf(new Error("x\ny")), "x");
  assertEquals(messageOf(42), "42");
});

Deno.test("networkCause: a network failure in a user's words", () => {
  const refused = Object.assign(new Error("connect ECONNREFUSED 1.2.3.4:5"), {
    code: "ECONNREFUSED",
  });
  assertEquals(
    networkCause(new Error("outer", { cause: refused })),
    "connection refused",
  );
  const odd = Object.assign(new Error("odd failure\nmore"), { code: "EODD" });
  assertEquals(networkCause(odd), "odd failure");
  assertEquals(networkCause(new Error("no code")), undefined);
});

Deno.test("messageWithoutPaths: Deno's file errors without their paths", async () => {
  const e = await Deno.readFile(".tmp/no/such/key").catch((e) => e);
  assertEquals(messageWithoutPaths(e), "No such file or directory");
  assertEquals(
    messageWithoutPaths(
      new Error("Permission denied (os error 13): rename '/a/b' -> '/a/c'"),
    ),
    "Permission denied",
  );
  assertEquals(
    messageWithoutPaths(new Error("cannot open '/srv/keys/ab' now")),
    "cannot open (path) now",
  );
  assertEquals(messageWithoutPaths(new Error("plain")), "plain");
});
