/**
 * The listener's accept probe (`probeAccept`): it must tell a port that
 * stopped accepting from an event loop that was only busy, so that the
 * listener never reopens a working port.
 */
import * as net from "node:net";
import { assertEquals } from "../assert.ts";
import { probeAccept } from "../../src/http/listener.ts";

/** A `node:net` server counting its accepts; closed by `close()`. */
async function countingServer(): Promise<
  { port: number; accepted: () => number; close: () => Promise<void> }
> {
  let accepted = 0;
  const server = net.createServer((socket) => {
    accepted++;
    socket.destroy();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    accepted: () => accepted,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** Keeps the event loop busy for `ms`, as a flood being parsed would. */
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // spin
  }
}

Deno.test("probeAccept: a server that accepts is accepting", async () => {
  const server = await countingServer();
  try {
    const signal = new AbortController().signal;
    assertEquals(
      await probeAccept("127.0.0.1", server.port, server.accepted, signal),
      "accepting",
    );
  } finally {
    await server.close();
  }
});

Deno.test("probeAccept: a port nobody accepts on, with the loop on time, is stuck", async () => {
  // The kernel completes the handshake into the backlog; nothing accepts.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const signal = new AbortController().signal;
    // A probe whose loop was late (a noisy machine) says "unknown" and is
    // tried again, as the listener does; never "accepting".
    const verdicts: string[] = [];
    for (let i = 0; i < 3 && !verdicts.includes("stuck"); i++) {
      verdicts.push(
        await probeAccept("127.0.0.1", listener.addr.port, () => 0, signal),
      );
    }
    assertEquals(verdicts.at(-1), "stuck", verdicts.join(", "));
  } finally {
    listener.close();
  }
});

Deno.test("probeAccept: a loop too busy to run its accepts is unknown, not stuck", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const signal = new AbortController().signal;
    const verdict = probeAccept(
      "127.0.0.1",
      listener.addr.port,
      () => 0,
      signal,
    );
    // Busy in the middle of the probe, longer than the lag it allows.
    await new Promise((r) => setTimeout(r, 300));
    busy(600);
    assertEquals(await verdict, "unknown");
  } finally {
    listener.close();
  }
});

Deno.test("probeAccept: an aborted probe is unknown at once", async () => {
  const server = await countingServer();
  try {
    const abort = new AbortController();
    const verdict = probeAccept(
      "127.0.0.1",
      server.port,
      () => 0,
      abort.signal,
    );
    abort.abort();
    assertEquals(await verdict, "unknown");
  } finally {
    await server.close();
  }
});
