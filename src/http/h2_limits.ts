/**
 * The bounds of bcn's HTTP/2 server, each with its reason, and the
 * options that let a test or an embedder tighten them. Every bound
 * answers one of the published HTTP/2 attack classes (listed in
 * `docs/http.md`): a connection that goes past its abuse budget gets a
 * GOAWAY `ENHANCE_YOUR_CALM` and is closed.
 *
 * @module
 */

/**
 * The largest decoded header list a request may have, counted as RFC 9113
 * §6.5.2 does (name, value and 32 per field), advertised as
 * SETTINGS_MAX_HEADER_LIST_SIZE. A gRPC or Connect request has well under
 * 1 KiB; the bound keeps a stream's headers small however well they
 * compress (HPACK amplification).
 */
export const MAX_HEADER_LIST_BYTES = 16 * 1024;

/**
 * The largest encoded header block (HEADERS and its CONTINUATIONs).
 */
export const MAX_HEADER_BLOCK_BYTES = 16 * 1024;

/**
 * Frames one header block may take at most (HEADERS and its
 * CONTINUATIONs): a block of {@link MAX_HEADER_BLOCK_BYTES} fits in two
 * frames of the minimum size, so a peer that sends many small or empty
 * fragments is flooding (CVE-2024-27316).
 */
export const MAX_HEADER_BLOCK_FRAMES = 16;

/**
 * The abuse budget of a connection, in points: each frame that costs the
 * server work without carrying a request forward costs a point (a PING
 * when the server sent no DATA since the last one, a SETTINGS, an empty
 * DATA or header fragment, a PRIORITY, a stream the client resets, a
 * stream refused). A connection that spends more than its budget is
 * closed with ENHANCE_YOUR_CALM.
 */
export const CONNECTION_ABUSE_BUDGET = 1000;

/**
 * The abuse budget of one remote address (IPv6: its /64) over all its
 * connections: reconnecting does not start over (rapid reset across
 * reconnects). Past it, the address's HTTP/2 connections are closed and
 * new ones refused until its meter is back under half.
 */
export const ADDRESS_ABUSE_BUDGET = 3000;

/**
 * SETTINGS entries that cost one more abuse point: RFC 9113 defines six
 * settings and peers send fewer than ten, so a frame of thousands (each
 * checked, and acknowledged) costs in proportion.
 */
export const SETTINGS_ENTRIES_PER_POINT = 16;

/** Points each budget regains a second. */
export const ABUSE_REFILL_PER_SECOND = 100;

/**
 * Streams open at once on the whole node over HTTP/2, and for one remote
 * address: each open stream may hold a handler, a store file and its read
 * buffer, whatever its connection. Past them a new stream is refused
 * (REFUSED_STREAM, which a client may retry); only the address's own share
 * costs it abuse points.
 */
export const MAX_STREAMS_PER_NODE = 256;

/**
 * Streams of {@link MAX_STREAMS_PER_NODE} kept for preferred addresses (the
 * node's known peers and its own machine), as connections are: strangers
 * holding streams cannot keep the network's own calls out.
 */
export const RESERVED_STREAMS = 64;

/**
 * See {@link MAX_STREAMS_PER_NODE}: as many as one connection may open, so
 * a client on one connection never meets this bound first.
 */
export const MAX_STREAMS_PER_ADDRESS = 100;

/**
 * How often a response that waits on its client is checked for progress:
 * waiting for the client's flow-control window or for its socket to
 * drain, it must have sent {@link MIN_PROGRESS_BYTES} since the last
 * check, or the stream is reset (CANCEL), or the connection closed when its
 * socket does not drain: a client that opens streams and then reads
 * nothing, or a byte now and then, would hold their handlers. A stream
 * whose handler is the one waiting (an event subscription) is never reset.
 */
export const PROGRESS_CHECK_MS = 10_000;

/** See {@link PROGRESS_CHECK_MS}: about 100 bytes a second. */
export const MIN_PROGRESS_BYTES = 1024;

/** The largest DATA part written before the socket's fill is looked at. */
export const SEND_CHUNK_BYTES = 16 * 1024;

/**
 * Response bytes written to one connection's socket and not yet taken by
 * the peer, at most: past {@link SEND_HIGH_WATER} a response waits for the
 * socket to drain; past this bound (frames that do not wait, such as PING
 * answers to a peer that never reads) the connection is dropped.
 */
export const MAX_UNREAD_BYTES = 256 * 1024;

/** See {@link MAX_UNREAD_BYTES}. */
export const SEND_HIGH_WATER = 64 * 1024;

/**
 * The bounds an HTTP/2 server connection enforces; every field has the
 * default above. Tests tighten them to reach a bound quickly.
 *
 * @example
 * ```ts
 * import type { H2Limits } from "./h2_limits.ts";
 * const quick: H2Limits = { progressCheckMs: 500 };
 * console.log(quick.progressCheckMs); // 500
 * ```
 */
export interface H2Limits {
  /** See {@link CONNECTION_ABUSE_BUDGET}. */
  connectionAbuseBudget?: number;
  /** See {@link ADDRESS_ABUSE_BUDGET}. */
  addressAbuseBudget?: number;
  /** See {@link ABUSE_REFILL_PER_SECOND}. */
  abuseRefillPerSecond?: number;
  /** See {@link MAX_STREAMS_PER_NODE}. */
  maxStreamsPerNode?: number;
  /** See {@link MAX_STREAMS_PER_ADDRESS}. */
  maxStreamsPerAddress?: number;
  /** See {@link PROGRESS_CHECK_MS}. */
  progressCheckMs?: number;
}
