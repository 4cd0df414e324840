import { assertEquals } from "../assert.ts";
import {
  RELAY_ORIGIN_HEADER,
  relayOrigin,
} from "../../src/rpc/relay_origin.ts";

Deno.test("relayOrigin takes a host:port from the header, nothing else", () => {
  const origin = (v: string) =>
    relayOrigin(new Headers({ [RELAY_ORIGIN_HEADER]: v }));
  assertEquals(origin("127.0.0.1:1123"), "127.0.0.1:1123");
  assertEquals(origin(" localhost:1123 "), "localhost:1123");
  assertEquals(origin("127.0.0.1"), undefined);
  assertEquals(origin("127.0.0.1:0"), undefined);
  assertEquals(origin("not an address"), undefined);
  assertEquals(relayOrigin(new Headers()), undefined);
});
