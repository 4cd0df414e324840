import { assert, assertEquals, assertThrows } from "../assert.ts";
import { isPeerAddress, splitHostPort } from "../../src/rpc/peer_address.ts";

Deno.test("isPeerAddress accepts host:port and rejects the rest", () => {
  for (const ok of ["127.0.0.1:1122", "localhost:1", "[::1]:65535"]) {
    assert(isPeerAddress(ok), ok);
  }
  for (
    const bad of [
      "",
      "127.0.0.1",
      ":1122",
      "127.0.0.1:0",
      "127.0.0.1:65536",
      "127.0.0.1:x",
      "a b:1",
      "http://x:1",
    ]
  ) {
    assert(!isPeerAddress(bad), bad);
  }
});

Deno.test("splitHostPort splits names, IPv4 and bracketed IPv6", () => {
  assertEquals(splitHostPort("localhost:1122"), {
    hostname: "localhost",
    port: 1122,
  });
  assertEquals(splitHostPort("[::1]:0"), { hostname: "::1", port: 0 });
  assertThrows(
    () => splitHostPort("127.0.0.1:70000"),
    Error,
    'invalid address "127.0.0.1:70000": expected host:port',
  );
});
