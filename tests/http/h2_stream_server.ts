/**
 * A child process for `h2_server_test.ts`: an RPC server whose BlockSync
 * streams 400 blocks of 3,000 bytes, yielding to the event loop between
 * blocks as a store read does. Prints `addr HOST:PORT`, then serves until
 * killed; a crash shows as its exit.
 *
 *   deno run --allow-net=127.0.0.1 h2_stream_server.ts
 *
 * @module
 */
import { startServer } from "../../src/rpc/server.ts";
import { Block } from "../../src/rpc/gen/block_pb.ts";

const server = await startServer({
  hostname: "127.0.0.1",
  port: 0,
  routes: (router) =>
    router.service(Block, {
      async *blockSync(_req, ctx) {
        for (let i = 0; i < 400 && !ctx.signal.aborted; i++) {
          await new Promise((r) => setTimeout(r, 0));
          yield { Block: new Uint8Array(3000).fill(i) };
        }
      },
    }),
});
console.log("addr", server.addr);
