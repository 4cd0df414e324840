/**
 * The error shared by state sync and the ledger.
 *
 * @module
 */

/**
 * What stopped state sync: `unreachable` when a peer (our seed) gave no
 * answer, which a restarted node may ride out with its local store;
 * `failed` for everything else (an invalid answer, another chain, a flag,
 * the store).
 */
export type SyncErrorKind = "unreachable" | "failed";

/** Options of a {@link SyncError}. */
export interface SyncErrorOptions {
  /** What stopped the sync; default `failed`. */
  kind?: SyncErrorKind;
  /** Whether the node cannot go on (its store failed), whatever the peer. */
  fatal?: boolean;
  /** The error behind it, such as a failed call to the seed. */
  cause?: unknown;
}

/**
 * An error that stops state sync; its message is one line for the user.
 *
 * @example
 * ```ts
 * import { SyncError } from "./sync_error.ts";
 *
 * const err = new SyncError("cannot fetch the genesis", { kind: "unreachable" });
 * console.log(err.kind, err.fatal); // "unreachable" false
 * ```
 */
export class SyncError extends Error {
  /** What stopped the sync. */
  readonly kind: SyncErrorKind;
  /** Whether the node cannot go on (its store failed), whatever the peer. */
  readonly fatal: boolean;
  /** Creates a sync error with a one-line reason. */
  constructor(message: string, options: SyncErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = "SyncError";
    this.kind = options.kind ?? "failed";
    this.fatal = options.fatal ?? false;
  }
}
