/**
 * The genesis of a starting node, in one place: a bootstrap node creates it
 * (with the authority and owner keys) on its first start; a regular node
 * fetches it from its seed and verifies it; a restarted node verifies its
 * own and, when regular, checks it is its seed's chain.
 *
 * @module
 */
import { join } from "node:path";
import { Account } from "../chain/account.ts";
import {
  decodeSigGenesis,
  genesisHash,
  newGenesis,
  type SigGenesis,
  verifyGenesis,
} from "../chain/genesis.ts";
import { messageOf } from "../util/errors.ts";
import { type BlockStore, GENESIS_FILE } from "../store/block_store.ts";
import { checkPassword, writeKey } from "../store/key_store.ts";
import type { NodeConfig } from "./config.ts";
import { SyncError } from "./sync_error.ts";

/** Options of {@link setUpGenesis}. */
export interface GenesisSetupOptions {
  /** Fetches a peer's genesis bytes (with the caller's retries). */
  fetch: (peer: string) => Promise<Uint8Array>;
  /** Stops the setup. */
  signal: AbortSignal;
  /** Where warnings go. */
  log: (message: string) => void;
  /**
   * A regular node's first start: tries the seed's genesis (`attempt`, with
   * {@link GenesisSetupOptions.fetchOnce}) until it gets it, such as
   * `waitForSeed` of `seed_wait.ts`. Without it, one fetch (with its own retries) that
   * fails when the seed cannot be reached.
   */
  seedWait?: (
    seed: string,
    attempt: () => Promise<SigGenesis>,
  ) => Promise<SigGenesis>;
  /** Fetches a peer's genesis bytes once, for each try of `seedWait`. */
  fetchOnce?: (peer: string) => Promise<Uint8Array>;
}

/** The genesis a node starts from, and the accounts made with a new one. */
export interface GenesisSetup {
  /** The verified genesis, now in the store. */
  genesis: SigGenesis;
  /** The accounts made for a new chain, when this start created it. */
  created?: { authority: string; owner: string };
}

// Refuses a bootstrap's inputs for a new chain (short passwords, no
// balance) with a SyncError, before anything is written.
function checkGenesisInputs(cfg: NodeConfig): void {
  try {
    checkPassword(
      cfg.authPass ?? "",
      "authority password (--authpass or BCN_AUTHPASS)",
    );
    checkPassword(
      cfg.ownerPass ?? "",
      "owner password (--ownerpass or BCN_OWNERPASS)",
    );
  } catch (e) {
    throw new SyncError(messageOf(e));
  }
  if (cfg.balance === undefined || cfg.balance <= 0n) {
    throw new SyncError(
      "balance (--balance) of the initial owner must be positive",
    );
  }
}

/**
 * Refuses, with a {@link SyncError}, a store path that is not a directory
 * and the inputs a bootstrap's first start needs when they are wrong
 * (passwords, balance), before anything is written. A node runs it before
 * it binds its port, so a bad flag is reported as such; a bootstrap whose
 * store already holds a genesis needs none of them.
 *
 * @example
 * ```ts
 * import { checkStartInputs } from "./genesis_setup.ts";
 * await checkStartInputs({
 *   node: "127.0.0.1:1122",
 *   bootstrap: false,
 *   keyStoreDir: ".keystore1122",
 *   blockStoreDir: ".blockstore1122",
 *   chain: "blockchain",
 * });
 * ```
 */
export async function checkStartInputs(cfg: NodeConfig): Promise<void> {
  // A store path that is a file would fail only after the other store's
  // directory was made: say so first, with nothing written.
  await checkDirectory(cfg.keyStoreDir, "key store");
  await checkDirectory(cfg.blockStoreDir, "block store");
  if (!cfg.bootstrap) return;
  const exists = await Deno.stat(join(cfg.blockStoreDir, GENESIS_FILE))
    .then(() => true, (e) => {
      // Only a missing file means a new chain; a store the node may not
      // read is an error of its own, not a reason to ask for passwords.
      if (e instanceof Deno.errors.NotFound) return false;
      throw e;
    });
  if (!exists) checkGenesisInputs(cfg);
}

/** Refuses `dir` when it exists and is not a directory. */
async function checkDirectory(dir: string, what: string): Promise<void> {
  const info = await Deno.stat(dir).catch((e) => {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  });
  if (info && !info.isDirectory) {
    throw new SyncError(`${what} ${dir} is not a directory`);
  }
}

/**
 * Reads, creates (bootstrap) or fetches (regular) the genesis of `store`
 * and verifies it. Rejects with a {@link SyncError} naming what was wrong.
 *
 * @example
 * ```ts
 * import { setUpGenesis } from "./genesis_setup.ts";
 * import type { NodeConfig } from "./config.ts";
 * import type { BlockStore } from "../store/block_store.ts";
 * async function start(cfg: NodeConfig, store: BlockStore): Promise<void> {
 *   const { genesis } = await setUpGenesis(cfg, store, {
 *     fetch: () => Promise.reject(new Error("offline")),
 *     signal: new AbortController().signal,
 *     log: console.error,
 *   });
 *   console.log(genesis.chain);
 * }
 * ```
 */
export async function setUpGenesis(
  cfg: NodeConfig,
  store: BlockStore,
  options: GenesisSetupOptions,
): Promise<GenesisSetup> {
  const genesis = await store.readGenesis();
  if (genesis === undefined) {
    return cfg.bootstrap
      ? await createGenesis(cfg, store)
      : { genesis: await syncGenesis(cfg, store, options) };
  }
  if (!verifyGenesis(genesis)) {
    throw new SyncError(`invalid genesis signature in ${cfg.blockStoreDir}`);
  }
  if (!cfg.bootstrap) await checkSeedChain(cfg, genesis, options);
  return { genesis };
}

async function createGenesis(
  cfg: NodeConfig,
  store: BlockStore,
): Promise<GenesisSetup> {
  // Every check comes before anything is written.
  checkGenesisInputs(cfg);
  const auth = Account.create();
  const owner = Account.create();
  await writeKey(cfg.keyStoreDir, auth, cfg.authPass!);
  await writeKey(cfg.keyStoreDir, owner, cfg.ownerPass!);
  const genesis = auth.signGenesis(
    newGenesis(cfg.chain, {
      authority: auth.address,
      balances: [[owner.address, cfg.balance!]],
    }),
  );
  await store.writeGenesis(genesis);
  return {
    genesis,
    created: { authority: auth.address, owner: owner.address },
  };
}

async function fetchGenesis(
  seed: string,
  options: Pick<GenesisSetupOptions, "fetch" | "signal">,
): Promise<SigGenesis> {
  let bytes: Uint8Array;
  try {
    bytes = await options.fetch(seed);
  } catch (e) {
    if (e instanceof SyncError) throw e;
    options.signal.throwIfAborted();
    throw new SyncError(
      `cannot fetch the genesis from seed ${seed}: ${messageOf(e)}`,
      { kind: "unreachable", cause: e },
    );
  }
  let genesis: SigGenesis;
  try {
    genesis = decodeSigGenesis(bytes);
  } catch (e) {
    throw new SyncError(`invalid genesis from ${seed}: ${messageOf(e)}`);
  }
  if (!verifyGenesis(genesis)) {
    throw new SyncError(`invalid genesis signature from ${seed}`);
  }
  return genesis;
}

async function syncGenesis(
  cfg: NodeConfig,
  store: BlockStore,
  options: GenesisSetupOptions,
): Promise<SigGenesis> {
  const seed = cfg.seed;
  if (!seed) throw new SyncError("a regular node needs --seed host:port");
  const { seedWait, fetchOnce } = options;
  const genesis = seedWait
    ? await seedWait(
      seed,
      () =>
        fetchGenesis(seed, { ...options, fetch: fetchOnce ?? options.fetch }),
    )
    : await fetchGenesis(seed, options);
  // Written only after its signature checked.
  await store.writeGenesis(genesis);
  return genesis;
}

// A restarted regular node makes sure its store belongs to its seed's
// chain. A seed that cannot be reached is not fatal here: the local store
// is valid on its own, and other peers may serve newer blocks.
async function checkSeedChain(
  cfg: NodeConfig,
  local: SigGenesis,
  options: GenesisSetupOptions,
): Promise<void> {
  const seed = cfg.seed;
  if (!seed) return;
  let remote: SigGenesis;
  try {
    remote = await fetchGenesis(seed, options);
  } catch (e) {
    if (e instanceof SyncError && e.kind !== "unreachable") throw e;
    options.log(`warning: ${messageOf(e)}; continuing with the local store`);
    return;
  }
  const mine = genesisHash(local);
  const theirs = genesisHash(remote);
  if (mine !== theirs) {
    throw new SyncError(
      `block store ${cfg.blockStoreDir} belongs to another chain ` +
        `(genesis ${mine.slice(0, 7)}) than seed ${seed} (genesis ${
          theirs.slice(0, 7)
        })`,
    );
  }
}
