/**
 * The authority's block proposer: at a random interval in
 * [period, 3 x period) it turns the pending transactions into a block.
 *
 * @module
 */
import type { Account } from "../chain/account.ts";
import type { Ledger } from "./ledger.ts";
import { sleep } from "../util/sleep.ts";
import { messageOf } from "../util/errors.ts";

/** Options of {@link runProposer}. */
export interface ProposerOptions {
  /** The base period in ms. */
  periodMs: number;
  /** Stops the proposer. */
  signal: AbortSignal;
  /** Where problems go. */
  log?: (message: string) => void;
}

/**
 * Proposes blocks signed by `authority` until the signal aborts; resolves
 * then. A round with no applicable pending transaction makes no block.
 */
export async function runProposer(
  ledger: Ledger,
  authority: Account,
  options: ProposerOptions,
): Promise<void> {
  const { periodMs, signal } = options;
  while (!signal.aborted) {
    // Random spacing, as in the reference, so proposals do not align with
    // the relay and discovery rounds.
    const wait = periodMs + Math.random() * 2 * periodMs;
    if (!await sleep(wait, signal)) return;
    try {
      await ledger.proposeBlock(authority);
    } catch (e) {
      // A store failure stops the node, which reports it once.
      if (!signal.aborted) {
        options.log?.(`block proposal failed: ${messageOf(e)}`);
      }
    }
  }
}
