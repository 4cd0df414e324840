/**
 * `bcn dev`: a local network in one command, a bootstrap and regular nodes
 * on consecutive loopback ports with funded accounts whose keys share one
 * known password. The nodes are {@link Node} instances in this one process,
 * each with its own port and stores, talking over loopback as separate
 * processes would: one process needs no `--allow-run`, works the same from a
 * clone, an install or a compiled binary, and stops as a whole on Ctrl-C.
 *
 * @module
 */
import { join } from "node:path";
import { Account } from "../chain/account.ts";
import { U64_MAX } from "../chain/json.ts";
import { newGenesis } from "../chain/genesis.ts";
import { Node } from "../node/node.ts";
import { messageOf } from "../util/errors.ts";
import { BlockStore } from "../store/block_store.ts";
import { listKeys, writeKey } from "../store/key_store.ts";
import {
  type Flags,
  optionalString,
  parseDuration,
  parseU64Flag,
  UsageError,
} from "./args.ts";
import { type Command, type Io, onStop } from "./command.ts";

/** The password of every key `bcn dev` writes. */
export const DEV_PASSWORD = "password";
/** The chain name of a `bcn dev` chain. */
export const DEV_CHAIN = "dev";

/** What `bcn dev` runs. */
export interface DevOptions {
  /** How many nodes (the first is the bootstrap). */
  nodes: number;
  /** How many funded accounts a new chain gets. */
  accounts: number;
  /** The balance of each account of a new chain. */
  balance: bigint;
  /** The period of the nodes, in ms. */
  periodMs: number;
  /** The bootstrap's port; node i serves on `port + i`. */
  port: number;
  /** Where the chain is kept; a temporary directory when undefined. */
  dir?: string;
}

/**
 * Parses `bcn dev` flags; a usage error names the flag that is wrong.
 *
 * @example
 * ```ts
 * import { devOptionsFromFlags } from "./dev.ts";
 *
 * const o = devOptionsFromFlags({ nodes: "2", period: "500ms" });
 * console.log(o.nodes, o.accounts, o.periodMs, o.port); // 2 5 500 1122
 * ```
 */
export function devOptionsFromFlags(flags: Flags): DevOptions {
  const nodes = intFlag(flags, "nodes", { min: 1, max: 32, default: 3 });
  const accounts = intFlag(flags, "accounts", { min: 1, max: 100, default: 5 });
  const port = intFlag(flags, "port", { min: 1, max: 65535, default: 1122 });
  if (port + nodes - 1 > 65535) {
    throw new UsageError(
      `--port: ${nodes} nodes from port ${port} go past 65535`,
    );
  }
  const b = optionalString(flags, "balance");
  const balance = b === undefined ? 1_000_000n : parseU64Flag("balance", b);
  if (balance === 0n) throw new UsageError("--balance: must be positive");
  if (balance * BigInt(accounts) > U64_MAX) {
    throw new UsageError(
      `--balance: ${accounts} accounts of ${balance} exceed a u64 in total`,
    );
  }
  const period = optionalString(flags, "period");
  return {
    nodes,
    accounts,
    balance,
    periodMs: period === undefined ? 1000 : parseDuration("period", period),
    port,
    dir: optionalString(flags, "dir"),
  };
}

function intFlag(
  flags: Flags,
  name: string,
  range: { min: number; max: number; default: number },
): number {
  const v = optionalString(flags, name);
  if (v === undefined) return range.default;
  const n = /^\d{1,6}$/.test(v) ? Number(v) : NaN;
  if (!(n >= range.min && n <= range.max)) {
    throw new UsageError(
      `--${name}: expected an integer from ${range.min} to ${range.max}, got ${
        JSON.stringify(v)
      }`,
    );
  }
  return n;
}

/**
 * The directories of node `i` of a dev chain in `dir`.
 *
 * @example
 * ```ts
 * import { devNodeDirs } from "./dev.ts";
 *
 * console.log(devNodeDirs("/tmp/chain", 1).keyStoreDir); // /tmp/chain/node1/keystore
 * ```
 */
export function devNodeDirs(
  dir: string,
  i: number,
): { keyStoreDir: string; blockStoreDir: string } {
  return {
    keyStoreDir: join(dir, `node${i}`, "keystore"),
    blockStoreDir: join(dir, `node${i}`, "blockstore"),
  };
}

/**
 * Creates a new dev chain in `dir`: the authority and `accounts` funded
 * accounts, account k's key in the key store of node `k % nodes`, all under
 * {@link DEV_PASSWORD}; the signed genesis (one balance per account) is
 * written last, in node 0's block store. Returns the account addresses.
 *
 * @example
 * ```ts
 * import { createDevChain } from "./dev.ts";
 *
 * const dir = await Deno.makeTempDir();
 * const accounts = await createDevChain(dir, {
 *   nodes: 2,
 *   accounts: 3,
 *   balance: 1000n,
 * });
 * console.log(accounts.length); // 3
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function createDevChain(
  dir: string,
  options: Pick<DevOptions, "nodes" | "accounts" | "balance">,
): Promise<string[]> {
  const authority = Account.create();
  await writeKey(devNodeDirs(dir, 0).keyStoreDir, authority, DEV_PASSWORD);
  const balances = new Map<string, bigint>();
  for (let k = 0; k < options.accounts; k++) {
    const account = Account.create();
    await writeKey(
      devNodeDirs(dir, k % options.nodes).keyStoreDir,
      account,
      DEV_PASSWORD,
    );
    balances.set(account.address, options.balance);
  }
  const genesis = authority.signGenesis(
    newGenesis(DEV_CHAIN, { authority: authority.address, balances }),
  );
  const store = await BlockStore.open(devNodeDirs(dir, 0).blockStoreDir);
  await store.writeGenesis(genesis);
  return [...balances.keys()];
}

/**
 * `bcn dev`: runs until a signal or an abort of `io.signal` (resolves) or a
 * node failure (rejects).
 *
 * @example
 * ```ts ignore
 * import { DEV } from "./dev.ts";
 * import { runCommand } from "./command.ts";
 *
 * await runCommand(DEV, ["--nodes", "2", "--port", "1122"]); // until Ctrl-C
 * ```
 */
export const DEV: Command = {
  name: "dev",
  summary: "start a local network with funded accounts, in one command",
  flags: {
    nodes: { type: "string" },
    accounts: { type: "string" },
    balance: { type: "string" },
    period: { type: "string" },
    port: { type: "string" },
    dir: { type: "string" },
  },
  help: `Usage: bcn dev [flags]

Starts a local network in one command: a bootstrap (authority) node and
regular nodes on consecutive loopback ports, with funded accounts whose key
files are in the nodes' key stores under the password "password". Prints
the nodes, the accounts, commands to try and each node's block explorer URL,
once; node logs follow on stderr.
Everything lives in a temporary directory removed on exit, unless --dir is
given: then the chain stays there, and 'bcn dev --dir DIR' again restarts it
(--accounts and --balance apply only to a new chain).

Ctrl-C (SIGINT) or SIGTERM stops every node cleanly (exit code 0). A node that
stops by itself stops the others, with a one-line reason (exit code 1).

Flags:
  --nodes N          nodes, the first one the bootstrap (default 3, at most 32)
  --accounts K       funded accounts (default 5, at most 100)
  --balance B        balance of each account (default 1000000)
  --period DURATION  block, discovery and relay period (default 1s; a block
                     comes 1 to 3 periods after a transaction)
  --port P           port of the bootstrap; the others follow (default 1122)
  --dir DIR          keep the chain in DIR (created if missing) instead of a
                     temporary directory
`,
  async run(flags, io) {
    const options = devOptionsFromFlags(flags);
    const temporary = options.dir === undefined;
    const dir = options.dir ?? await Deno.makeTempDir({ prefix: "bcn_dev_" });
    const newChainFlags = flags.accounts !== undefined ||
      flags.balance !== undefined;
    try {
      await runDev(dir, options, { temporary, newChainFlags, io });
    } finally {
      if (temporary) await Deno.remove(dir, { recursive: true });
    }
    io.err(
      `bcn dev: every node stopped${temporary ? `; removed ${dir}` : ""}`,
    );
  },
};

async function runDev(
  dir: string,
  options: DevOptions,
  context: { temporary: boolean; newChainFlags: boolean; io: Io },
): Promise<void> {
  const { io } = context;
  const log = (m: string) => io.err(m);
  const existing = await hasChain(dir);
  if (!existing) {
    await Deno.mkdir(dir, { recursive: true });
    for await (const _ of Deno.readDir(dir)) {
      throw new UsageError(
        `--dir: ${dir} is not empty and holds no bcn dev chain`,
      );
    }
    await createDevChain(dir, options);
  } else if (context.newChainFlags) {
    log(
      `bcn dev: restarting the chain in ${dir}; --accounts and --balance apply only to a new chain`,
    );
  }

  const stop = new AbortController();
  const removeListeners = onStop(io, () => stop.abort());
  const nodes: Node[] = [];
  try {
    const addr = (i: number) => `127.0.0.1:${options.port + i}`;
    for (let i = 0; i < options.nodes; i++) {
      const node = new Node({
        node: addr(i),
        bootstrap: i === 0,
        seed: i === 0 ? undefined : addr(0),
        ...devNodeDirs(dir, i),
        chain: DEV_CHAIN,
        authPass: i === 0 ? DEV_PASSWORD : undefined,
        periodMs: options.periodMs,
      }, {
        out: () => {},
        log: (m) => log(`[${options.port + i}] ${m}`),
      });
      nodes.push(node);
    }
    // The bootstrap first (the others fetch the genesis from it), then the
    // rest together. A Ctrl-C meanwhile stops what has started.
    const started = (async () => {
      await nodes[0].start();
      await Promise.all(nodes.slice(1).map((n) => n.start()));
    })();
    const interrupted = new Promise<void>((resolve) =>
      stop.signal.addEventListener("abort", () => resolve(), { once: true })
    );
    // Whichever comes second must not be an unhandled rejection.
    started.catch(() => {});
    try {
      await Promise.race([started, interrupted]);
    } catch (e) {
      throw new Error(`cannot start the network: ${messageOf(e)}`);
    }
    if (stop.signal.aborted) return;

    io.out(
      await devSummary(dir, nodes, {
        temporary: context.temporary,
        options,
      }),
    );

    // Run until a signal, or until a node stops by itself.
    const died = Promise.race(
      nodes.map((n) =>
        n.finished.then(
          () => ({ node: n, error: new Error("stopped") }),
          (error: Error) => ({ node: n, error }),
        )
      ),
    );
    const first = await Promise.race([died, interrupted]);
    if (first) {
      throw new Error(
        `node ${first.node.addr} stopped: ${
          messageOf(first.error)
        }; stopped the others`,
      );
    }
  } finally {
    removeListeners();
    await Promise.allSettled(nodes.map((n) => n.stop()));
  }
}

async function hasChain(dir: string): Promise<boolean> {
  try {
    await Deno.stat(join(devNodeDirs(dir, 0).blockStoreDir, "genesis.json"));
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** The table `bcn dev` prints once the network runs. */
async function devSummary(
  dir: string,
  nodes: Node[],
  context: { temporary: boolean; options: DevOptions },
): Promise<string> {
  const { options } = context;
  const state = nodes[0].state;
  const owners = new Map<string, string>();
  for (let i = 0; i < nodes.length; i++) {
    for (const address of await listKeys(devNodeDirs(dir, i).keyStoreDir)) {
      if (!owners.has(address)) owners.set(address, nodes[i].addr);
    }
  }
  const accounts = [...state.genesis.balances.keys()].sort();
  const addrWidth = Math.max(...nodes.map((n) => n.addr.length));
  const lines: string[] = [];
  lines.push(
    `bcn dev: chain ${state.genesis.chain}, genesis ${state.genesisHash}`,
  );
  lines.push(
    `data in ${dir} (${
      context.temporary
        ? "removed on exit"
        : "kept; bcn dev --dir again restarts it"
    }); Ctrl-C stops every node`,
  );
  lines.push("");
  lines.push(`${"node".padEnd(addrWidth)}  role`);
  nodes.forEach((n, i) => {
    lines.push(
      `${n.addr.padEnd(addrWidth)}  ${
        i === 0 ? `bootstrap, authority ${state.authority}` : "regular"
      }`,
    );
  });
  lines.push("");
  const balances = accounts.map((a) => String(state.balance(a) ?? 0n));
  const balWidth = Math.max(7, ...balances.map((b) => b.length));
  lines.push(
    `${"address".padEnd(64)}  ${"balance".padStart(balWidth)}  password  node`,
  );
  accounts.forEach((a, k) => {
    lines.push(
      `${a}  ${balances[k].padStart(balWidth)}  ${DEV_PASSWORD.padEnd(8)}  ${
        owners.get(a) ?? "(no key)"
      }`,
    );
  });
  const from = accounts.find((a) => owners.has(a)) ?? accounts[0];
  const to = accounts.find((a) => a !== from) ?? from;
  const signer = owners.get(from) ?? nodes[0].addr;
  // Sent through another node than the signer, to see the relay at work.
  const other = nodes.map((n) => n.addr).findLast((a) => a !== signer) ??
    signer;
  lines.push("");
  lines.push(
    "Try (in a clone without an installed bcn, write 'deno task -q bcn' for 'bcn'):",
  );
  lines.push(
    `  bcn tx sign --node ${signer} --from ${from} --to ${to} --value 25 --ownerpass ${DEV_PASSWORD} | bcn tx send --node ${other} --sigtx -`,
  );
  lines.push(`  bcn account balance --node ${other} --account ${to}`);
  lines.push(`  bcn node status --node ${other}`);
  lines.push(`  curl -s http://${nodes[0].addr}/metrics`);
  lines.push("");
  lines.push("Block explorer (open in a browser):");
  for (const n of nodes) lines.push(`  http://${n.addr}/`);
  lines.push("");
  lines.push(
    `bcn dev: ${nodes.length} node${
      nodes.length === 1 ? "" : "s"
    } running, a block 1 to 3 periods of ${options.periodMs} ms after a transaction`,
  );
  return lines.join("\n");
}
