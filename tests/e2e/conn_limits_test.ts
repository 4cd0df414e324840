/**
 * End-to-end: a real `bcn node start` under a low open-file limit
 * (`ulimit -n`) flooded with connections runs out of file descriptors, after
 * which Deno's `node:net` server never accepts again; the node notices and
 * opens its port again.
 */
import * as net from "node:net";
import { assert, assertEquals } from "../assert.ts";
import { canBind } from "../rpc/harness.ts";
import { bootstrapArgs, freePort, startBcn, withTempDir } from "./helpers.ts";

const REMOTE = "127.0.0.2";
const LINUX = Deno.build.os === "linux";

/** Opens `n` connections from `localAddress`; resolves when all settled. */
async function flood(
  port: number,
  n: number,
  localAddress: string,
): Promise<{ connected: number; close: () => void }> {
  const sockets: net.Socket[] = [];
  let connected = 0;
  await Promise.all(
    Array.from({ length: n }, () =>
      new Promise<void>((resolve) => {
        const socket = net.connect({ host: "127.0.0.1", port, localAddress });
        sockets.push(socket);
        const timer = setTimeout(resolve, 10_000);
        socket.once("connect", () => {
          connected++;
          clearTimeout(timer);
          resolve();
        });
        socket.once("error", () => {
          clearTimeout(timer);
          resolve();
        });
      })),
  );
  return { connected, close: () => sockets.forEach((s) => s.destroy()) };
}

/** `GET /healthz` over a fresh connection from `localAddress`: the status line. */
function healthz(port: number, localAddress: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port, localAddress });
    let text = "";
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(`no answer within 2 s: ${JSON.stringify(text)}`);
    }, 2000);
    socket.once(
      "connect",
      () => socket.write("GET /healthz HTTP/1.1\r\nHost: bcn\r\n\r\n"),
    );
    socket.on("data", (chunk: Uint8Array) => {
      text += new TextDecoder().decode(chunk);
      if (text.includes("\r\n")) {
        clearTimeout(timer);
        socket.destroy();
        resolve(text.slice(0, text.indexOf("\r\n")));
      }
    });
    socket.on("error", (e: Error) => {
      clearTimeout(timer);
      resolve(`error: ${e.message}`);
    });
  });
}

Deno.test({
  name:
    "a node whose port ran out of file descriptors (ulimit -n 400) opens it again",
  ignore: !LINUX || !canBind(REMOTE),
  fn: () =>
    withTempDir(async (dir) => {
      const port = freePort();
      const addr = `127.0.0.1:${port}`;
      const bcn = await startBcn(
        [...bootstrapArgs(addr, { dir }), "--max-conns-per-ip", "512"],
        { openFiles: 400 },
      );
      try {
        await bcn.waitFor(`<=> gRPC ${addr}\n`);
        assertEquals(await healthz(port, REMOTE), "HTTP/1.1 200 OK");
        // More connections than the process may open files: accept fails.
        const held = await flood(port, 900, REMOTE);
        assertEquals(held.connected, 900);
        held.close();
        // Without the probe the port would never accept again.
        let status = "";
        const deadline = Date.now() + 20_000;
        for (let i = 0; i < 80 && status !== "HTTP/1.1 200 OK"; i++) {
          if (Date.now() > deadline) break;
          await new Promise((r) => setTimeout(r, 250));
          status = await healthz(port, REMOTE);
        }
        assertEquals(status, "HTTP/1.1 200 OK");
        assert(
          bcn.output().stderr.includes(
            `server: port ${port} stopped accepting connections (out of file descriptors?); opening it again`,
          ),
          bcn.output().stderr,
        );
      } finally {
        await bcn.stop();
      }
    }),
});
