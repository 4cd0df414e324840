/**
 * The bound on one RPC message, the same for the server and its peers'
 * transports.
 *
 * @module
 */

/**
 * The largest message a peer may send (16 MiB): far above any block bcn
 * proposes, far below what would let one message exhaust a node's memory.
 * Compressed messages are not accepted, so this bounds memory too.
 */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
