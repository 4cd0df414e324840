import { assert, assertEquals, assertThrows } from "../assert.ts";
import { PeerRegistry } from "../../src/rpc/registry.ts";
import { Node } from "../../src/rpc/gen/node_pb.ts";
import { type RpcServer, startServer } from "../../src/rpc/server.ts";
import { PeerDiscovery } from "../../src/node/peers.ts";
import { peerDiscoverMethods } from "../../src/rpc/node_service.ts";
import { waitFor } from "../support.ts";

const PERIOD_MS = 50;

function sorted(list: string[]): string[] {
  return [...list].sort();
}

/** A test node: a server with PeerDiscover and a discovery loop. */
class TestNode {
  readonly registry = new PeerRegistry();
  discovery!: PeerDiscovery;
  server!: RpcServer;
  #controller = new AbortController();
  #running: Promise<void> = Promise.resolve();

  /** Starts the server (on `port`, 0 for any) and the discovery loop. */
  async start(
    port: number,
    options: { seed?: string; bootstrap: boolean; log?: string[] },
  ): Promise<void> {
    this.server = await startServer({
      hostname: "127.0.0.1",
      port,
      closeGraceMs: 50,
      routes: (router) => {
        router.service(Node, {
          peerDiscover: (req, ctx) =>
            peerDiscoverMethods(this.discovery, {
              remembersCallers: options.bootstrap,
            }).peerDiscover(req, ctx),
        });
      },
    });
    this.discovery ??= new PeerDiscovery({
      self: this.server.addr,
      seed: options.seed,
      registry: this.registry,
      periodMs: PERIOD_MS,
      timeoutMs: 500,
      log: (m) => options.log?.push(m),
    });
    this.#controller = new AbortController();
    this.#running = this.discovery.start(this.#controller.signal);
  }

  /** Stops the loop and the server (the registry stays for a restart). */
  async stop(): Promise<void> {
    this.#controller.abort();
    await this.#running;
    await this.server.close();
  }

  async close(): Promise<void> {
    await this.stop();
    this.registry.close();
  }
}

Deno.test("PeerDiscovery rejects a non-positive period", () => {
  const registry = new PeerRegistry();
  assertThrows(
    () => new PeerDiscovery({ self: "a:1", registry, periodMs: 0 }),
    RangeError,
    "periodMs",
  );
  registry.close();
});

Deno.test({
  name:
    "PeerDiscovery: three nodes find each other, drop a stopped one, take it back",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    const log: string[] = [];
    const a = new TestNode();
    const b = new TestNode();
    const c = new TestNode();
    const changes: string[][] = [];
    try {
      await a.start(0, { bootstrap: true, log });
      await b.start(0, { bootstrap: false, seed: a.server.addr, log });
      await c.start(0, { bootstrap: false, seed: a.server.addr, log });
      c.discovery.onChange((peers) => changes.push(peers));
      const all = [a, b, c];
      const others = (n: TestNode): string[] =>
        sorted(all.filter((o) => o !== n).map((o) => o.server.addr));
      const everyoneKnowsEveryone = (): boolean =>
        all.every((n) => {
          const peers = n.discovery.peers();
          return JSON.stringify(sorted(peers)) ===
            JSON.stringify(others(n));
        });
      assert(
        await waitFor(everyoneKnowsEveryone, 3000),
        `peers: ${all.map((n) => n.discovery.peers().join(",")).join(" | ")}`,
      );
      assert(changes.length >= 2, "C's listener saw A and B appear");
      for (const n of all) {
        assert(!n.discovery.peers().includes(n.server.addr), "never self");
      }

      // C stops: A and B forget it after 3 failed rounds.
      const port = c.server.port;
      const cAddr = c.server.addr;
      await c.stop();
      assert(
        await waitFor(
          () =>
            !a.discovery.peers().includes(cAddr) &&
            !b.discovery.peers().includes(cAddr),
          3000,
        ),
        "C forgotten",
      );
      assert(log.some((m) => m.includes(`peer ${cAddr} forgotten`)), "logged");
      assertEquals(a.discovery.peers(), [b.server.addr]);
      assertEquals(b.discovery.peers(), [a.server.addr]);

      // C restarts on the same port: it comes back everywhere.
      await c.start(port, { bootstrap: false, seed: a.server.addr, log });
      assert(
        await waitFor(everyoneKnowsEveryone, 3000),
        `peers: ${all.map((n) => n.discovery.peers().join(",")).join(" | ")}`,
      );
    } finally {
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  },
});

Deno.test({
  name:
    "PeerDiscovery keeps asking a failing seed and resolves at once on abort",
  sanitizeOps: true,
  sanitizeResources: true,
  async fn() {
    // A free port with nothing listening.
    const probe = await startServer({
      hostname: "127.0.0.1",
      port: 0,
      routes: () => {},
    });
    const seed = probe.addr;
    await probe.close();
    const registry = new PeerRegistry();
    const discovery = new PeerDiscovery({
      self: "127.0.0.1:1",
      seed,
      registry,
      periodMs: 20,
      maxFailures: 1,
    });
    const controller = new AbortController();
    const running = discovery.start(controller.signal);
    try {
      await new Promise((resolve) => setTimeout(resolve, 150));
      assertEquals(discovery.peers(), []);
      // The seed comes up: it is found although it failed many times.
      const server = await startServer({
        hostname: "127.0.0.1",
        port: Number(seed.split(":")[1]),
        closeGraceMs: 50,
        routes: (router) => {
          router.service(Node, { peerDiscover: () => ({ Peers: [seed] }) });
        },
      });
      try {
        assert(await waitFor(() => discovery.peers().length === 1, 2000));
        assertEquals(discovery.peers(), [seed]);
      } finally {
        await server.close();
      }
    } finally {
      const t0 = Date.now();
      controller.abort();
      await running;
      assert(Date.now() - t0 < 200, "start() resolves promptly on abort");
      registry.close();
    }
  },
});
