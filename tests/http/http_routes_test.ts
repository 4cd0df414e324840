/**
 * The request URL shared by the HTTP/1.1 and HTTP/2 servers: a Host that
 * could move the path elsewhere is refused.
 */
import { assertEquals } from "../assert.ts";
import { requestUrl } from "../../src/http/http_routes.ts";

Deno.test("requestUrl takes plain hosts and ports, and the target as the path", () => {
  assertEquals(
    requestUrl("127.0.0.1:1122", "/Block/GenesisSync"),
    "http://127.0.0.1:1122/Block/GenesisSync",
  );
  assertEquals(requestUrl("[::1]:5", "/a?b=1"), "http://[::1]:5/a?b=1");
  assertEquals(requestUrl("node-1.example", "/"), "http://node-1.example/");
  for (
    const [host, target] of [
      ["x?", "/healthz"], // the path would be "/"
      ["x#", "/healthz"],
      ["x\\admin", "/healthz"], // the path would be "/admin/healthz"
      ["x/y", "/a"],
      ["user@x", "/a"],
      ["::1:5", "/a"],
      ["x:80\\", "/a"],
      ["x, y", "/a"],
      ["", "/a"],
      ["x", "a"], // not origin-form
      ["x", "http://y/a"],
      ["x:99999999", "/a"],
    ]
  ) {
    assertEquals(requestUrl(host, target), undefined, `${host} ${target}`);
  }
});
