import { assertEquals } from "../assert.ts";
import { Code, ConnectError } from "@connectrpc/connect";
import { describePeerError, withoutAddr } from "../../src/rpc/peer_errors.ts";

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

Deno.test("withoutAddr drops only a trailing address", () => {
  assertEquals(
    withoutAddr("connect ECONNREFUSED h:1", "h:1"),
    "connect ECONNREFUSED",
  );
  assertEquals(withoutAddr("refused by h:12", "h:1"), "refused by h:12");
});
