/**
 * Checkpoints on a running node: the authority signs one at every block
 * whose number is a multiple of the chain's interval (also for blocks it
 * replays from a store that has none); every node recomputes the state
 * hash when it applies such a block and compares it with the authority's
 * checkpoint for it, whether that was stored before, or fetched later
 * from a peer. A mismatch is one loud line and the checkpoint is not
 * served; a match is stored (so the node serves it) with the state at it.
 *
 * @module
 */
import type { Account } from "../chain/account.ts";
import { blockBytes, blockHash, type SigBlock } from "../chain/block.ts";
import {
  DEFAULT_CHECKPOINT_INTERVAL,
  type SigCheckpoint,
  verifyCheckpoint,
} from "../chain/checkpoint.ts";
import { genesisHash, type SigGenesis } from "../chain/genesis.ts";
import type { State } from "../chain/state.ts";
import {
  chunkAccounts,
  stateAccounts,
  StateHasher,
} from "../chain/state_hash.ts";
import type { CheckpointStore } from "../store/checkpoint_store.ts";
import { messageOf } from "../util/errors.ts";

/** How many recomputed state hashes wait for the authority's checkpoint. */
const MAX_COMPUTED = 8;

/** A state hash this node worked out when it applied a checkpoint block. */
interface Computed {
  readonly number: bigint;
  readonly block: Uint8Array;
  readonly blockHash: string;
  readonly state: string;
  readonly accounts: number;
  /** The state's chunks, kept for the newest one only. */
  chunks?: string[];
  /** Whether the block is durable (the authority signs only then). */
  durable: boolean;
}

/** What became of a checkpoint offered by a peer. */
export type OfferOutcome =
  | "stored"
  | "known"
  | "unchecked"
  | "mismatch"
  | "refused";

/** Options of {@link CheckpointKeeper}. */
export interface CheckpointKeeperOptions {
  /** Where checkpoints are kept. */
  store: CheckpointStore;
  /** The chain's genesis. */
  genesis: SigGenesis;
  /** The authority's key, on the authority: it signs checkpoints. */
  authority?: Account;
  /**
   * The authority's interval (`--checkpoint-interval`); a regular node
   * learns it from the checkpoints it holds or is offered.
   */
  interval?: bigint;
  /** Where mismatches and failures are reported. */
  log: (message: string) => void;
}

/**
 * Makes (authority) and checks (every node) the checkpoints of one chain.
 *
 * @example
 * ```ts ignore
 * import { CheckpointKeeper } from "./checkpoints.ts";
 * const keeper = new CheckpointKeeper({ store, genesis, log: console.error });
 * keeper.applied(block, state, true);
 * await keeper.idle();
 * ```
 */
export class CheckpointKeeper {
  readonly #store: CheckpointStore;
  readonly #genesis: SigGenesis;
  readonly #genesisHash: string;
  readonly #authority: Account | undefined;
  readonly #log: (message: string) => void;
  #interval: bigint;
  readonly #computed = new Map<bigint, Computed>();
  /** Checkpoints held that do not match this node's state: never served. */
  readonly #bad = new Set<bigint>();
  #work: Promise<void> = Promise.resolve();
  #mismatches = 0;
  #checked = 0;

  /** Prepares the keeper of `options.store`. */
  constructor(options: CheckpointKeeperOptions) {
    this.#store = options.store;
    this.#genesis = options.genesis;
    this.#genesisHash = genesisHash(options.genesis);
    this.#authority = options.authority;
    this.#log = options.log;
    const foreign = this.#store.keepChain(this.#genesisHash);
    if (foreign > 0) {
      this.#log(
        `warning: ${foreign} checkpoints held are of another chain than genesis ${
          this.#genesisHash.slice(0, 7)
        }: not served`,
      );
    }
    const held = this.#store.newest();
    this.#interval = options.interval ??
      (held?.genesis === this.#genesisHash ? held.interval : undefined) ??
      DEFAULT_CHECKPOINT_INTERVAL;
  }

  /** The chain's checkpoint interval, as far as this node knows. */
  get interval(): bigint {
    return this.#interval;
  }

  /** Checkpoints that did not match this node's state, since start. */
  get mismatches(): number {
    return this.#mismatches;
  }

  /** Checkpoints this node checked against its own state, since start. */
  get checked(): number {
    return this.#checked;
  }

  /** Block numbers whose state hash waits for the authority's checkpoint. */
  unchecked(): bigint[] {
    return [...this.#computed.keys()].filter((n) => !this.#store.get(n));
  }

  /** The newest checkpoint this node serves (held and matching). */
  served(): SigCheckpoint | undefined {
    const newest = this.#store.newest();
    if (newest && !this.#bad.has(newest.number)) return newest;
    return this.#store.all().reverse().find((c) => !this.#bad.has(c.number));
  }

  /** A checkpoint this node serves at block `number`. */
  get(number: bigint): SigCheckpoint | undefined {
    return this.#bad.has(number) ? undefined : this.#store.get(number);
  }

  /**
   * `block` was just applied to `state` (which is now at it): at a
   * checkpoint block, works out the state hash at once (the state moves
   * on), then checks it against a held checkpoint, or signs one (the
   * authority, once the block is `durable`), or waits for the authority's.
   */
  applied(block: SigBlock, state: State, durable: boolean): void {
    if (block.number % this.#interval !== 0n) return;
    const hasher = new StateHasher();
    const chunks: string[] = [];
    for (const chunk of chunkAccounts(stateAccounts(state.confirmed()))) {
      chunks.push(hasher.add(chunk));
    }
    const { hash, accounts: count } = hasher.finish();
    for (const c of this.#computed.values()) c.chunks = undefined;
    const computed: Computed = {
      number: block.number,
      block: blockBytes(block),
      blockHash: blockHash(block),
      state: hash,
      accounts: count,
      chunks,
      durable,
    };
    this.#computed.set(block.number, computed);
    while (this.#computed.size > MAX_COMPUTED) {
      this.#computed.delete(this.#computed.keys().next().value!);
    }
    const held = this.#store.get(block.number);
    if (held) this.#compare(held, computed, "held");
    else if (durable) this.#sign(computed);
  }

  /** `block` is durable now: the authority may sign its checkpoint. */
  durable(block: SigBlock): void {
    const computed = this.#computed.get(block.number);
    if (!computed || computed.durable) return;
    computed.durable = true;
    if (!this.#store.get(block.number)) this.#sign(computed);
  }

  /**
   * Takes the interval from `c` when it is this chain's and signed by the
   * authority (a regular node, before it applies blocks); returns whether
   * it was. Synchronous, so it can run before the first block.
   */
  learn(c: SigCheckpoint): boolean {
    if (this.#authority) return false;
    if (c.genesis !== this.#genesisHash || c.chain !== this.#genesis.chain) {
      return false;
    }
    if (!verifyCheckpoint(c, this.#genesis.authority)) return false;
    this.#interval = c.interval;
    return true;
  }

  /**
   * A checkpoint from `peer`: refused (one line) when it is another
   * chain's or not signed by the authority; compared with this node's own
   * state hash at that block when it has one (stored on a match, one loud
   * line on a mismatch); `unchecked` (not stored) otherwise. Its interval
   * becomes the one this node checks at.
   */
  offer(c: SigCheckpoint, peer: string): Promise<OfferOutcome> {
    return this.#queue(() => {
      if (c.genesis !== this.#genesisHash || c.chain !== this.#genesis.chain) {
        this.#log(
          `warning: peer ${peer}: checkpoint ${c.number} is from another chain (${c.chain} ${
            c.genesis.slice(0, 7)
          })`,
        );
        return "refused";
      }
      if (!verifyCheckpoint(c, this.#genesis.authority)) {
        this.#log(
          `warning: peer ${peer}: checkpoint ${c.number} is not signed by the authority ${
            this.#genesis.authority.slice(0, 7)
          }`,
        );
        return "refused";
      }
      if (!this.#authority) this.#interval = c.interval;
      if (this.#store.get(c.number)) return "known";
      const computed = this.#computed.get(c.number);
      if (!computed) return "unchecked";
      return this.#compareNow(c, computed, `from peer ${peer}`);
    });
  }

  /** Resolves once every signature and write under way is done. */
  idle(): Promise<void> {
    return this.#work;
  }

  #compare(c: SigCheckpoint, computed: Computed, what: string): void {
    void this.#queue(() => this.#compareNow(c, computed, what));
  }

  async #compareNow(
    c: SigCheckpoint,
    computed: Computed,
    what: string,
  ): Promise<OfferOutcome> {
    this.#checked++;
    if (
      c.block !== computed.blockHash || c.state !== computed.state ||
      c.accounts !== BigInt(computed.accounts)
    ) {
      this.#mismatches++;
      this.#bad.add(c.number);
      this.#log(
        `error: checkpoint ${c.number} (${what}) does not match this node's state: the authority signed block ${
          c.block.slice(0, 7)
        } state ${
          c.state.slice(0, 7)
        } (${c.accounts} accounts), this node has block ${
          computed.blockHash.slice(0, 7)
        } state ${
          computed.state.slice(0, 7)
        } (${computed.accounts} accounts); the checkpoint is not served`,
      );
      return "mismatch";
    }
    this.#bad.delete(c.number);
    await this.#store.append(c);
    await this.#keepState(c, computed);
    return "stored";
  }

  #sign(computed: Computed): void {
    const authority = this.#authority;
    if (!authority) return;
    void this.#queue(async () => {
      if (this.#store.get(computed.number)) return;
      const c = authority.signCheckpoint({
        chain: this.#genesis.chain,
        genesis: this.#genesisHash,
        interval: this.#interval,
        number: computed.number,
        block: computed.blockHash,
        state: computed.state,
        accounts: BigInt(computed.accounts),
      });
      await this.#store.append(c);
      await this.#keepState(c, computed);
    });
  }

  async #keepState(c: SigCheckpoint, computed: Computed): Promise<void> {
    // Only the newest state is kept, and only while its chunks are at hand.
    if (!computed.chunks) return;
    if (this.#store.newest()?.number !== c.number) return;
    await this.#store.writeState(c, computed.block, computed.chunks);
  }

  #queue<T>(task: () => T | Promise<T>): Promise<T> {
    const run = this.#work.then(task).catch((e) => {
      this.#log(`warning: checkpoint ${messageOf(e)}`);
      throw e;
    });
    this.#work = run.then(() => {}, () => {});
    return run;
  }
}
