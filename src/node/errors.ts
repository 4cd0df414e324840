/**
 * The errors shared by state sync and the ledger.
 *
 * @module
 */

/** An error that stops state sync; its message is one line for the user. */
export class SyncError extends Error {
  /** Whether the node cannot go on (its store failed), whatever the peer. */
  readonly fatal: boolean;
  /** Creates a sync error with a one-line reason. */
  constructor(message: string, options: { fatal?: boolean } = {}) {
    super(message);
    this.name = "SyncError";
    this.fatal = options.fatal ?? false;
  }
}

/** The one-line message of an error of any kind. */
export function messageOf(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split("\n")[0];
}
