/**
 * The Node service: peer discovery (`PeerDiscover`) and event streams
 * (`StreamSubscribe`), on the narrow interfaces this module declares and the
 * node implements: a {@link PeerBook} (the node's peer discovery) and an
 * `EventFeed` (the node's event bus, `event_feed.ts`).
 *
 * @module
 */
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { encodeEvent } from "../chain/event.ts";
import type { Node } from "./gen/node_pb.ts";
import { encodeUtf8 } from "../util/utf8.ts";
import { type EventFeed, SubscriberTooSlow } from "./event_feed.ts";

/** The peers a node knows, as `PeerDiscover` answers and learns them. */
export interface PeerBook {
  /** Our own advertised address, `host:port`. */
  readonly self: string;
  /** The live peers, never our own address. */
  peers(): string[];
  /** Records a peer we heard of (a caller of the bootstrap node). */
  add(peer: string): void;
}

/** Options of {@link peerDiscoverMethods}. */
export interface PeerDiscoverMethodsOptions {
  /**
   * Whether callers are recorded with {@link PeerBook.add}: true on the
   * bootstrap node, which is how regular nodes find each other.
   */
  remembersCallers: boolean;
}

/**
 * The Node service's `PeerDiscover` handler: records the caller when
 * `remembersCallers`, and answers with the live peers plus our own address,
 * without the caller's address.
 *
 * @example
 * ```ts
 * import { Node } from "./gen/node_pb.ts";
 * import { startServer } from "./server.ts";
 * import { type PeerBook, peerDiscoverMethods } from "./node_service.ts";
 *
 * const known = new Set<string>();
 * const discovery: PeerBook = {
 *   self: "127.0.0.1:1122",
 *   peers: () => [...known],
 *   add: (peer) => known.add(peer),
 * };
 * const server = await startServer({
 *   hostname: "127.0.0.1",
 *   port: 1122,
 *   routes: (router) => {
 *     router.service(
 *       Node,
 *       peerDiscoverMethods(discovery, { remembersCallers: true }),
 *     );
 *   },
 * });
 * await server.close();
 * ```
 */
export function peerDiscoverMethods(
  discovery: PeerBook,
  options: PeerDiscoverMethodsOptions,
): Pick<ServiceImpl<typeof Node>, "peerDiscover"> {
  return {
    peerDiscover(req) {
      if (options.remembersCallers) discovery.add(req.Peer);
      const peers = discovery.peers().filter((p) => p !== req.Peer);
      return { Peers: [...peers, discovery.self] };
    },
  };
}

/** Options of {@link streamSubscribeMethods}. */
export interface StreamSubscribeOptions {
  /** Events queued per subscriber; default 1000. */
  capacity?: number;
}

/**
 * The Node service's `StreamSubscribe` handler: checks `EventTypes` (each 0,
 * 1 or 2, else InvalidArgument naming the bad value), then streams every
 * matching event as canonical JSON until the client goes away. A client too
 * slow to keep up gets ResourceExhausted.
 *
 * @example
 * ```ts
 * import { Node } from "./gen/node_pb.ts";
 * import { startServer } from "./server.ts";
 * import type { EventFeed } from "./event_feed.ts";
 * import { streamSubscribeMethods } from "./node_service.ts";
 *
 * // A feed with no events; the node serves its event bus.
 * const bus: EventFeed = {
 *   subscribe: () => [][Symbol.iterator]() as never,
 * };
 * const server = await startServer({
 *   hostname: "127.0.0.1",
 *   port: 0,
 *   routes: (router) => router.service(Node, streamSubscribeMethods(bus)),
 * });
 * await server.close();
 * ```
 */
export function streamSubscribeMethods(
  bus: EventFeed,
  options: StreamSubscribeOptions = {},
): Pick<ServiceImpl<typeof Node>, "streamSubscribe"> {
  return {
    async *streamSubscribe(req, ctx) {
      const types = req.EventTypes.map(checkEventType);
      const events = bus.subscribe(types, {
        signal: ctx.signal,
        capacity: options.capacity,
      });
      try {
        for await (const event of events) {
          yield { Event: encodeUtf8(encodeEvent(event)) };
        }
      } catch (err) {
        if (err instanceof SubscriberTooSlow) {
          throw new ConnectError(err.message, Code.ResourceExhausted);
        }
        throw err;
      }
    },
  };
}

/** A requested event type as a number; InvalidArgument when unknown. */
function checkEventType(type: bigint): number {
  if (type === 0n || type === 1n || type === 2n) return Number(type);
  throw new ConnectError(
    `invalid event type ${type}: expected 0 (all), 1 (tx) or 2 (block)`,
    Code.InvalidArgument,
  );
}
