/** Dialling TCP: a connection, a refusal, and an abort. */
import { assertEquals, assertRejects } from "../assert.ts";
import { connectTcp } from "../../src/util/tcp.ts";

Deno.test("connectTcp opens a connection to a listening port", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const conn = await connectTcp("127.0.0.1", listener.addr.port);
  const server = await accepted;
  assertEquals(conn.remoteAddr.port, listener.addr.port);
  conn.close();
  server.close();
});

Deno.test("connectTcp rejects when nothing listens", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  await assertRejects(() => connectTcp("127.0.0.1", port));
});

Deno.test("connectTcp rejects with the reason of an aborted signal", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const stop = new AbortController();
  stop.abort(new Error("stopped"));
  await assertRejects(
    () => connectTcp("127.0.0.1", listener.addr.port, stop.signal),
    Error,
    "stopped",
  );
});
