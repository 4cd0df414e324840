/**
 * Connection accounting for the one-port RPC server: a bound per remote
 * address, deadlines for a first request and for idleness, and room kept for
 * the node's own machine and known peers, so a crowd of strangers can
 * neither exhaust the server's connections nor lock its peers out.
 *
 * @module
 */

import type * as net from "node:net";
import { clientAddress, ipBytes } from "./address_list.ts";

/**
 * The most connections the server holds open at once. Each costs a file
 * descriptor and some memory; a real network has far fewer peers. With
 * the refused connections being answered (at most 256) and the node's own
 * files and calls, this stays under the usual `ulimit -n` of 1,024: a
 * process out of file descriptors cannot accept (see `listener.ts`).
 */
export const MAX_CONNECTIONS = 512;

/**
 * The most connections one remote address may hold (`--max-conns-per-ip`).
 * A loopback network of 5 busy nodes (`bench/loopback_conns.ts`) held at
 * most 22 connections per node, all from 127.0.0.1; 64 leaves room for
 * several nodes and busy clients behind one address, while 8 addresses are
 * needed to reach {@link MAX_CONNECTIONS}.
 */
export const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS = 64;

/**
 * Connections kept for known peers and the node's own machine: above
 * `MAX_CONNECTIONS - RESERVED_CONNECTIONS` open connections, others are
 * refused.
 */
export const RESERVED_CONNECTIONS = 128;

/**
 * How long after accept a connection has to start its first request (HTTP/1.1
 * headers complete) or stream (HTTP/2): any client sends it at once, so a few
 * seconds cover a slow network, and a connection that only holds a slot is
 * dropped early.
 */
export const HANDSHAKE_TIMEOUT_MS = 5_000;

/**
 * How long a connection with no request or stream open stays open: long
 * enough for a client to reuse it for its next call, short enough that idle
 * connections do not pile up.
 */
export const IDLE_TIMEOUT_MS = 30_000;

/** Options of {@link ConnectionTracker}; every field has a default. */
export interface ConnectionLimits {
  /** Open connections at most; default {@link MAX_CONNECTIONS}. */
  maxConnections?: number;
  /**
   * Open connections per remote address (IPv6: per /64) at most; default
   * {@link DEFAULT_MAX_CONNECTIONS_PER_ADDRESS}.
   */
  maxPerAddress?: number;
  /**
   * Connections kept for preferred addresses; default
   * {@link RESERVED_CONNECTIONS} (capped at half of `maxConnections`).
   */
  reserved?: number;
  /** See {@link HANDSHAKE_TIMEOUT_MS} (the default). */
  handshakeTimeoutMs?: number;
  /** See {@link IDLE_TIMEOUT_MS} (the default). */
  idleTimeoutMs?: number;
  /**
   * Whether a remote IP address (e.g. `"10.0.0.7"`, IPv4-mapped IPv6
   * addresses already unwrapped) is one the server should keep room for,
   * such as a known peer's. Asked only when the server is nearly full.
   */
  isPreferred?: (remoteAddress: string) => boolean;
}

/** Counters of a {@link ConnectionTracker}, for tests, logs and benchmarks. */
export interface ConnectionStats {
  /** Connections open now. */
  open: number;
  /** The most connections open at once so far. */
  peak: number;
  /** The most connections one address held at once so far. */
  peakPerAddress: number;
  /** Connections refused because their address held its share. */
  refusedPerAddress: number;
  /** Connections refused because the server was (nearly) full. */
  refusedFull: number;
  /** Idle connections closed to make room for a preferred one. */
  evicted: number;
  /** Connections closed because their first request never came. */
  closedHandshake: number;
  /** Connections closed because they stayed idle. */
  closedIdle: number;
}

/** Why a connection was refused. */
export type RefusedReason = "per-address" | "full";

/**
 * One admitted connection: the server reports its requests or streams, and
 * tells how to close it politely (a GOAWAY for HTTP/2).
 */
export class TrackedConnection {
  /** The remote IP address, IPv4-mapped IPv6 unwrapped. */
  readonly remoteAddress: string;
  /** The accounting key: the IPv4 address or the IPv6 /64. */
  readonly key: string;
  /** From the server's own machine: the remote address is the local one. */
  readonly local: boolean;
  readonly #socket: net.Socket;
  readonly #tracker: ConnectionTracker;
  #busy = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closer: (() => void) | undefined;
  #closed = false;

  /** Created by {@link ConnectionTracker.admit} only. */
  constructor(
    socket: net.Socket,
    tracker: ConnectionTracker,
    info: { remoteAddress: string; key: string; local: boolean },
  ) {
    this.#socket = socket;
    this.#tracker = tracker;
    this.remoteAddress = info.remoteAddress;
    this.key = info.key;
    this.local = info.local;
  }

  /** Whether a request or stream is open on the connection. */
  get busy(): boolean {
    return this.#busy > 0;
  }

  /**
   * Sets how to close the connection when it expires or is evicted, instead
   * of destroying its socket: e.g. `() => session.close()` (a GOAWAY).
   */
  setCloser(close: () => void): void {
    this.#closer = close;
  }

  /** A request (HTTP/1.1) or stream (HTTP/2) started: the connection is busy. */
  requestStarted(): void {
    this.#busy++;
    this.#clearTimer();
    this.#tracker.markBusy(this);
  }

  /** A request or stream ended; with none left the idle time starts. */
  requestEnded(): void {
    if (this.#busy === 0) return;
    this.#busy--;
    if (this.#busy === 0 && !this.#closed) this.#startIdle();
  }

  /** Starts the handshake time; called once by the tracker. */
  startHandshake(ms: number): void {
    this.#tracker.markIdle(this);
    this.#arm(ms, "handshake");
  }

  /** Closes the connection: politely when a closer was set. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clearTimer();
    if (this.#closer) {
      this.#closer();
      // A GOAWAY lets open streams finish; a connection that is idle has
      // none, so it should be gone soon: make sure of it.
      const timer = setTimeout(() => this.#socket.destroy(), 1000);
      this.#socket.once("close", () => clearTimeout(timer));
    } else {
      this.#socket.destroy();
    }
  }

  /** The socket closed: stops the timers. */
  closed(): void {
    this.#closed = true;
    this.#clearTimer();
  }

  #startIdle(): void {
    this.#tracker.markIdle(this);
    this.#arm(this.#tracker.idleTimeoutMs, "idle");
  }

  #arm(ms: number, why: "handshake" | "idle"): void {
    this.#clearTimer();
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.busy || this.#closed) return;
      this.#tracker.expired(why);
      this.close();
    }, ms);
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/**
 * Admits or refuses connections and closes those that never start a request
 * or stay idle.
 *
 * The server reports each request (HTTP/1.1) or stream (HTTP/2) that starts
 * and ends on a connection. A connection is *busy* while one is open,
 * whatever its length (block sync, relays and event subscriptions are long
 * streams in use), and *idle* otherwise. An idle connection is closed after
 * `idleTimeoutMs`; one whose first request or stream has not started
 * `handshakeTimeoutMs` after accept is closed too, whatever the protocol.
 *
 * Who gets in:
 * - at most `maxPerAddress` connections per remote address (an IPv6 address
 *   counts by its /64, which one host usually owns whole);
 * - below `maxConnections - reserved` open connections, everyone else;
 * - above it, only *preferred* connections: from the server's own machine
 *   (the remote address is the connection's local address) or from an
 *   address the `isPreferred` callback names (the node's known peers). When
 *   the server is full, a preferred connection takes the place of the
 *   longest-idle connection that is not preferred.
 *
 * @example
 * ```ts
 * import * as net from "node:net";
 * import { ConnectionTracker } from "./conn_limits.ts";
 *
 * const tracker = new ConnectionTracker({ maxPerAddress: 8 });
 * const server = net.createServer((socket) => {
 *   const conn = tracker.admit(socket);
 *   if (typeof conn === "string") return socket.destroy(); // refused
 *   socket.once("data", () => conn.requestStarted());
 * });
 * server.close();
 * ```
 */
export class ConnectionTracker {
  /** See {@link ConnectionLimits.maxConnections}. */
  readonly maxConnections: number;
  /** See {@link ConnectionLimits.maxPerAddress}. */
  readonly maxPerAddress: number;
  /** See {@link ConnectionLimits.reserved}. */
  readonly reserved: number;
  /** See {@link ConnectionLimits.handshakeTimeoutMs}. */
  readonly handshakeTimeoutMs: number;
  /** See {@link ConnectionLimits.idleTimeoutMs}. */
  readonly idleTimeoutMs: number;
  readonly #isPreferred: (remoteAddress: string) => boolean;
  readonly #perKey = new Map<string, number>();
  /** Idle connections, longest idle first (insertion order). */
  readonly #idle = new Set<TrackedConnection>();
  /** The open connections, counted in `#perKey` too. */
  readonly #open = new Set<TrackedConnection>();
  readonly #stats: ConnectionStats = {
    open: 0,
    peak: 0,
    peakPerAddress: 0,
    refusedPerAddress: 0,
    refusedFull: 0,
    evicted: 0,
    closedHandshake: 0,
    closedIdle: 0,
  };

  /**
   * Creates a tracker; every limit has a default.
   *
   * @example
   * ```ts
   * import { ConnectionTracker } from "./conn_limits.ts";
   *
   * const tracker = new ConnectionTracker({ idleTimeoutMs: 10_000 });
   * console.log(tracker.maxPerAddress); // 64
   * ```
   */
  constructor(limits: ConnectionLimits = {}) {
    this.maxConnections = positive(
      "maxConnections",
      limits.maxConnections ?? MAX_CONNECTIONS,
    );
    this.maxPerAddress = positive(
      "maxPerAddress",
      limits.maxPerAddress ?? DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
    );
    this.reserved = Math.min(
      limits.reserved ?? RESERVED_CONNECTIONS,
      Math.floor(this.maxConnections / 2),
    );
    this.handshakeTimeoutMs = positive(
      "handshakeTimeoutMs",
      limits.handshakeTimeoutMs ?? HANDSHAKE_TIMEOUT_MS,
    );
    this.idleTimeoutMs = positive(
      "idleTimeoutMs",
      limits.idleTimeoutMs ?? IDLE_TIMEOUT_MS,
    );
    this.#isPreferred = limits.isPreferred ?? (() => false);
  }

  /**
   * Admits a freshly accepted socket, or says why not (the caller closes
   * it). An admitted connection is counted until its socket closes, and is
   * closed if its first request or stream has not started within
   * `handshakeTimeoutMs`.
   *
   * @example
   * ```ts
   * import * as net from "node:net";
   * import { ConnectionTracker } from "./conn_limits.ts";
   *
   * const tracker = new ConnectionTracker();
   * net.createServer((socket) => {
   *   const conn = tracker.admit(socket);
   *   if (conn === "per-address" || conn === "full") socket.destroy();
   * }).close();
   * ```
   */
  admit(socket: net.Socket): TrackedConnection | RefusedReason {
    const remoteAddress = clientAddress(socket.remoteAddress) ?? "";
    const key = addressKey(remoteAddress);
    const count = this.#perKey.get(key) ?? 0;
    if (count >= this.maxPerAddress) {
      this.#stats.refusedPerAddress++;
      return "per-address";
    }
    const local = remoteAddress === (clientAddress(socket.localAddress) ?? "");
    if (this.#open.size >= this.maxConnections - this.reserved) {
      if (!local && !this.#isPreferred(remoteAddress)) {
        this.#stats.refusedFull++;
        return "full";
      }
      if (this.#open.size >= this.maxConnections) {
        const victim = this.#longestIdleNotPreferred();
        if (victim === undefined) {
          this.#stats.refusedFull++;
          return "full";
        }
        this.#stats.evicted++;
        this.#release(victim);
        victim.close();
      }
    }
    const conn = new TrackedConnection(socket, this, {
      remoteAddress,
      key,
      local,
    });
    this.#open.add(conn);
    this.#perKey.set(key, count + 1);
    this.#stats.peak = Math.max(this.#stats.peak, this.#open.size);
    this.#stats.peakPerAddress = Math.max(
      this.#stats.peakPerAddress,
      count + 1,
    );
    socket.once("close", () => {
      conn.closed();
      this.#release(conn);
    });
    conn.startHandshake(this.handshakeTimeoutMs);
    return conn;
  }

  /**
   * The counters so far.
   *
   * @example
   * ```ts
   * import { ConnectionTracker } from "./conn_limits.ts";
   *
   * console.log(new ConnectionTracker().stats().open); // 0
   * ```
   */
  stats(): ConnectionStats {
    return { ...this.#stats, open: this.#open.size };
  }

  /** Called by a connection that became busy. */
  markBusy(conn: TrackedConnection): void {
    this.#idle.delete(conn);
  }

  /** Called by a connection that became idle (or was just accepted). */
  markIdle(conn: TrackedConnection): void {
    this.#idle.delete(conn);
    this.#idle.add(conn);
  }

  /** Called by a connection closed by its handshake or idle timer. */
  expired(why: "handshake" | "idle"): void {
    if (why === "handshake") this.#stats.closedHandshake++;
    else this.#stats.closedIdle++;
  }

  /**
   * Counts a connection out, once: an evicted one at once (its slot is
   * taken), any other when its socket closes.
   */
  #release(conn: TrackedConnection): void {
    if (!this.#open.delete(conn)) return;
    this.#idle.delete(conn);
    const n = (this.#perKey.get(conn.key) ?? 1) - 1;
    if (n > 0) this.#perKey.set(conn.key, n);
    else this.#perKey.delete(conn.key);
  }

  #longestIdleNotPreferred(): TrackedConnection | undefined {
    for (const conn of this.#idle) {
      // Peers are asked now: the peer set may have changed since accept.
      if (!conn.local && !conn.busy && !this.#isPreferred(conn.remoteAddress)) {
        return conn;
      }
    }
    return undefined;
  }
}

/**
 * The key one remote address is counted under: an IPv4 address itself, an
 * IPv6 address by its first 64 bits (`2001:db8:0:1::/64`), since one host
 * usually holds a whole /64.
 *
 * @example
 * ```ts
 * import { addressKey } from "./conn_limits.ts";
 *
 * console.log(addressKey("2001:db8::1:2:3:4")); // 2001:db8:0:0::/64
 * console.log(addressKey("10.0.0.7")); // 10.0.0.7
 * ```
 */
export function addressKey(address: string): string {
  const ip = clientAddress(address.replace(/%.*$/, "")) ?? "";
  if (!ip.includes(":")) return ip;
  const bytes = ipBytes(ip);
  if (bytes === undefined) return ip;
  const groups = [0, 2, 4, 6].map((i) =>
    ((bytes[i] << 8) | bytes[i + 1]).toString(16)
  );
  return `${groups.join(":")}::/64`;
}

function positive(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
  return value;
}
