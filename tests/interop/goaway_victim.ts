/**
 * The victim of the GOAWAY interop test, run as a child process (a crash
 * kills it). It opens `SESSIONS` peer registries in `grpc` mode to one
 * grpc-go server and makes `CALLS` calls on each (PeerDiscover and
 * BlockSync, as a node does), so each has an HTTP/2 client session that
 * served calls; lets the garbage collector run (with
 * `--v8-flags=--expose-gc`), prints `idle`, and waits until the parent
 * closes its stdin, which it does after stopping the server gracefully
 * (GOAWAY on every connection); then prints `survived`. Several sessions
 * make the crash of denoland/deno#36788 likelier per run (PLATFORM.md).
 *
 * With `busy` as a fourth argument, every registry keeps calling (and
 * ignores failures) until stdin closes, so the GOAWAY meets calls in flight.
 *
 *   deno run -A --v8-flags=--expose-gc goaway_victim.ts ADDR SESSIONS CALLS [busy]
 *
 * @module
 */
import { PeerRegistry } from "../../src/rpc/registry.ts";

const [addr, sessions = "1", calls = "13", mode = "idle"] = Deno.args;
const registries = Array.from(
  { length: Number(sessions) },
  () => new PeerRegistry({ protocol: "grpc" }),
);
let stdinClosed = false;

/** One call: PeerDiscover or a whole BlockSync, in turn. */
async function call(registry: PeerRegistry, i: number): Promise<void> {
  const { block, node } = registry.clients(addr);
  if (i % 2 === 0) await node.peerDiscover({ Peer: "127.0.0.1:1" });
  else {
    for await (const _ of block.blockSync({ Number: 1n })) {
      // read them all
    }
  }
}

await Promise.all(registries.map(async (registry) => {
  for (let i = 0; i < Number(calls); i++) await call(registry, i);
}));
const busy = mode === "busy"
  ? Promise.all(registries.map(async (registry) => {
    for (let i = 0; !stdinClosed; i++) {
      await call(registry, i).catch(() => new Promise((r) => setTimeout(r, 5)));
    }
  }))
  : undefined;
const gc = (globalThis as { gc?: () => void }).gc;
for (let i = 0; i < 3; i++) {
  gc?.();
  await new Promise((r) => setTimeout(r, 50));
}
console.log("idle");
for await (const _ of Deno.stdin.readable) {
  // nothing is sent; the loop ends when the parent closes stdin
}
stdinClosed = true;
await busy;
console.log("survived");
for (const registry of registries) registry.close();
