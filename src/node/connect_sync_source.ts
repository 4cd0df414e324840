/**
 * A {@link SyncSource} over Connect for library users, which owns its peer
 * connections.
 *
 * @module
 */
import { PeerRegistry } from "../rpc/registry.ts";
import type { PeerProtocol } from "../rpc/transport.ts";
import { peerSyncSource, type SyncSource } from "./state_sync.ts";

/** A {@link SyncSource} with connections to close when done. */
export interface ConnectSyncSource extends SyncSource {
  /** Closes every peer connection. */
  close(): void;
}

/**
 * Reaches peers' Block service (GenesisSync, BlockSync) over Connect, with
 * gRPC for reference Go peers (`protocol`, `auto` by default).
 *
 * @example
 * ```ts
 * import { connectSyncSource } from "./connect_sync_source.ts";
 * const source = connectSyncSource({ protocol: "auto" });
 * source.close();
 * ```
 */
export function connectSyncSource(
  options: { protocol?: PeerProtocol } = {},
): ConnectSyncSource {
  const registry = new PeerRegistry({ protocol: options.protocol ?? "auto" });
  return { ...peerSyncSource(registry), close: () => registry.close() };
}
