/**
 * The chaos benchmark: `deno task bench:chaos [netns]`.
 *
 * Starts a small network of real `bcn node start` processes on loopback (an
 * authority with `--period 1s` and three regular nodes, n1-n3), runs a
 * steady load of signed transfers (15 tx/s from 8 funded senders, each
 * sender's nonces in order, sent to the regular nodes in turn) and, during
 * it, injects four faults one after another:
 *
 * 1. the authority paused (SIGSTOP) for 15 s, then SIGCONT;
 * 2. n1 paused for 10 s, then SIGCONT;
 * 3. n2 killed (SIGKILL) and restarted on its stores 3 s later;
 * 4. n3 stopped (SIGTERM) and restarted on its stores 3 s later.
 *
 * Then it stops the load, waits (at most 60 s) until every transfer answered
 * with a hash is in the authority's block store, and prints: transfers sent,
 * answered, confirmed and lost (answered but never confirmed), the catch-up
 * time of each fault, and whether every node's `block.store` is the same,
 * byte for byte.
 *
 * Catch-up: for a regular node, the time from SIGCONT (or from the restart,
 * the process's start included) until its height equals the authority's;
 * for the authority, the time from the end of the fault until it has
 * confirmed a block since the fault began and every regular node has it (its
 * own height cannot fall behind).
 *
 * A sender re-sends a transfer that got no hash (a timeout, a refused
 * connection, a rejection) before it signs its next one: the same signed
 * transaction, to the next node in turn. So no nonce is skipped and no two
 * transactions share one; a re-send the node already holds ("already
 * pending", or a nonce below its next one, which only that transfer can
 * have filled) counts as accepted, apart from the answered ones.
 *
 * `netns` (Linux, root, `ip`): each node runs in a network namespace of its
 * own, on a bridge with the bench in the root namespace, and fault 1 takes
 * the authority's link down (`ip link set ... down`) for 15 s instead of
 * pausing it. When it cannot, it says why in one line and exits with code
 * 1. Every namespace, bridge and veth pair it made is removed at the end,
 * also after a failure or on Ctrl-C.
 *
 * Set `BCN_MAIN` to another checkout's `src/main.ts` (its `deno.json` beside
 * `src/`) to run that version's nodes, e.g. a commit exported with
 * `git archive`.
 *
 * Bounded: it makes only loopback addresses (or, with `netns`, its own
 * namespaces on a private 10.213.x.0/24 bridge), sends at most 5,000
 * transfers, stops by itself (in about two minutes; every wait is bounded,
 * none beyond a minute) and stops every process it started. Its files go
 * under `.tmp/` and are removed.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { Account } from "../src/chain/account.ts";
import { decodeSigBlock } from "../src/chain/block.ts";
import { newGenesis } from "../src/chain/genesis.ts";
import { timeNow } from "../src/chain/time.ts";
import { encodeSigTx, txHash } from "../src/chain/tx.ts";
import { decodeStatus } from "../src/node/observe/status.ts";
import { createPeerClients, type PeerClients } from "../src/rpc/registry.ts";
import { PeerTransport } from "../src/rpc/transport.ts";
import { writeKey } from "../src/store/key_store.ts";
import { BLOCKS_FILE, BlockStore } from "../src/store/block_store.ts";
import {
  BCN_V8_FLAGS,
  CONFIG_PATH,
  DENO,
  MAIN_PATH,
  SRC_DIR,
  stablePort,
} from "../tests/e2e/helpers.ts";
import { makeTempDir } from "../tests/support.ts";

const NETNS = Deno.args[0] === "netns";
if (Deno.args.length > 1 || (Deno.args.length === 1 && !NETNS)) {
  console.error("usage: deno task bench:chaos [netns]");
  Deno.exit(2);
}

/** The nodes' entry point, its config and the source their workers read. */
const MAIN = Deno.env.get("BCN_MAIN") ?? MAIN_PATH;
const CONFIG = Deno.env.get("BCN_MAIN") === undefined
  ? CONFIG_PATH
  : join(dirname(dirname(MAIN)), "deno.json");
const SRC = Deno.env.get("BCN_MAIN") === undefined ? SRC_DIR : dirname(MAIN);

const PASS = "bench password";
const REGULAR = 3;
const SENDERS = 8;
/** Transfers per second, all senders together. */
const RATE = 15;
const MAX_TXS = 5_000;
const SEND_TIMEOUT_MS = 5_000;
const STATUS_TIMEOUT_MS = 2_000;
const START_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 10_000;
const CATCH_UP_TIMEOUT_MS = 60_000;
const DRAIN_TIMEOUT_MS = 60_000;
const SAME_STORES_TIMEOUT_MS = 30_000;
/** Steady load before the first fault and after each catch-up. */
const STEADY_MS = 5_000;
const AUTHORITY_FAULT_MS = 15_000;
const PAUSE_MS = 10_000;
const DOWN_MS = 3_000;
/** The port every node serves on in its own namespace. */
const NETNS_PORT = 7100;

const t0 = performance.now();
const since = (start: number) => (performance.now() - start) / 1000;
const log = (line: string) =>
  console.log(`t=${since(t0).toFixed(1).padStart(6)} s  ${line}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------- processes

/** Set once the cleanup has begun. */
let cleaning: Promise<void> | undefined;

/**
 * A `bcn` child process. Its output is read as it comes, so a full pipe
 * never blocks it: stdout kept (the first 64 KiB), stderr's last lines for
 * the report of a failure.
 */
class Proc {
  readonly pid: number;
  readonly done: Promise<Deno.CommandStatus>;
  stdout = "";
  readonly stderr: string[] = [];
  exited = false;
  /** Set before a signal meant to end it, so an exit can be told expected. */
  ending = false;
  readonly #child: Deno.ChildProcess;

  constructor(command: string, args: string[], env: Record<string, string>) {
    this.#child = new Deno.Command(command, {
      args,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.pid = this.#child.pid;
    let partial = "";
    const pump = async (
      stream: ReadableStream<Uint8Array>,
      add: (text: string) => void,
    ) => {
      for await (const t of stream.pipeThrough(new TextDecoderStream())) {
        add(t);
      }
    };
    this.done = Promise.all([
      this.#child.status.then((s) => {
        this.exited = true;
        return s;
      }),
      pump(this.#child.stdout, (t) => {
        if (this.stdout.length < 65_536) this.stdout += t;
      }),
      pump(this.#child.stderr, (t) => {
        const lines = (partial + t).split("\n");
        partial = lines.pop()!;
        this.stderr.push(...lines);
        this.stderr.splice(0, Math.max(0, this.stderr.length - 30));
      }),
    ]).then(([status]) => status);
  }

  /** Sends `signal`; nothing once it has exited. */
  signal(signal: Deno.Signal): void {
    if (this.exited) return;
    try {
      this.#child.kill(signal);
    } catch {
      // It exited meanwhile.
    }
  }

  /** Resolves once `text` is on stdout; throws on exit or after `ms`. */
  async waitFor(text: string, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.stdout.includes(text)) {
      if (this.exited) throw new Error(`exited before printing ${text}`);
      if (Date.now() > deadline) {
        throw new Error(`no ${JSON.stringify(text)} within ${ms} ms`);
      }
      await sleep(100);
    }
  }

  /** Sends `signal` (after SIGCONT: a paused process would not act on it), then SIGKILL after the grace. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<Deno.CommandStatus> {
    this.ending = true;
    this.signal("SIGCONT");
    this.signal(signal);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<undefined>((r) => {
      timer = setTimeout(() => r(undefined), STOP_GRACE_MS);
    });
    const first = await Promise.race([this.done, grace]);
    clearTimeout(timer);
    if (first) return first;
    this.signal("SIGKILL");
    return await this.done;
  }
}

/** One node of the network. */
interface ChaosNode {
  name: string;
  authority: boolean;
  /** `host:port`. */
  addr: string;
  /** Its stores are `dir/keystore` and `dir/blockstore`. */
  dir: string;
  args: string[];
  /** Its network namespace and the root-side end of its veth (netns). */
  ns?: string;
  link?: string;
  proc?: Proc;
}

/** Starts `node` (again, on the same stores) and waits until it serves. */
async function start(
  node: ChaosNode,
  root: string,
  hosts: string[],
): Promise<void> {
  const deno = [
    DENO,
    "run",
    ...BCN_V8_FLAGS,
    // src/: the verification workers load their module from there.
    `--allow-read=${root},${SRC}`,
    `--allow-write=${root}`,
    `--allow-net=${hosts.join(",")}`,
    "--allow-env=BCN_AUTHPASS,BCN_OWNERPASS",
    "--config",
    CONFIG,
    MAIN,
    ...node.args,
  ];
  // `ip netns exec` execs the command: the child's pid is the node's, so
  // signals reach the node itself.
  // Never a new process once the cleanup has begun (Ctrl-C): it would outlive the bench.
  if (cleaning !== undefined) throw new Error("stopping");
  const [command, ...args] = node.ns === undefined
    ? deno
    : ["ip", "netns", "exec", node.ns, ...deno];
  node.proc = new Proc(command, args, {
    BCN_AUTHPASS: node.authority ? PASS : "",
    BCN_OWNERPASS: "",
  });
  await node.proc.waitFor("<=> gRPC ", START_TIMEOUT_MS);
}

/** The node's last confirmed block number, or undefined when it does not answer. */
async function height(node: ChaosNode): Promise<number | undefined> {
  try {
    const res = await fetch(`http://${node.addr}/status`, {
      signal: AbortSignal.timeout(STATUS_TIMEOUT_MS),
    });
    const text = await res.text();
    if (res.status !== 200) return undefined;
    return Number(decodeStatus(text).lastBlock.number);
  } catch {
    return undefined;
  }
}

async function readStore(node: ChaosNode): Promise<Uint8Array> {
  try {
    return await Deno.readFile(join(node.dir, "blockstore", BLOCKS_FILE));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return new Uint8Array();
    throw e;
  }
}

/** The transaction hashes of a block store's complete lines. */
function storeTxHashes(bytes: Uint8Array): Set<string> {
  const lines = new TextDecoder().decode(bytes).split("\n");
  lines.pop(); // empty, or a line still being written
  return new Set(
    lines.filter((l) => l !== "").flatMap((l) =>
      decodeSigBlock(l).txs.map(txHash)
    ),
  );
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

// -------------------------------------------------------------- network

async function ip(...args: string[]): Promise<string> {
  const out = await new Deno.Command("ip", {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  if (out.code !== 0) {
    throw new Error(
      `ip ${args.join(" ")}: ${text.decode(out.stderr).trim()}`,
    );
  }
  return text.decode(out.stdout);
}

/** Why the netns variant cannot run here, or undefined when it can. */
async function netnsUnavailable(): Promise<string | undefined> {
  if (Deno.build.os !== "linux") return `not Linux (${Deno.build.os})`;
  if (Deno.uid() !== 0) return "not root";
  try {
    await ip("netns", "list");
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return "no ip command";
    return (e as Error).message;
  }
  return undefined;
}

function ipv4(text: string): number {
  return text.split(".").reduce((n, b) => n * 256 + Number(b), 0);
}

/** A 10.213.x.0/24 that no address or route of this machine overlaps. */
async function freeSubnet(): Promise<string> {
  const text = await ip("-4", "-o", "addr", "show") +
    await ip("-4", "route", "show", "table", "all");
  const used = [...text.matchAll(/(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?/g)].map((
    m,
  ) => ({ net: ipv4(m[1]), len: Number(m[2] ?? 32) }));
  for (let i = 0; i < 250; i++) {
    const x = 1 + (Deno.pid + i) % 250;
    const net = ipv4(`10.213.${x}.0`);
    const clash = used.some(({ net: u, len }) => {
      const bits = Math.min(len, 24);
      const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
      return ((u & mask) >>> 0) === ((net & mask) >>> 0);
    });
    if (!clash) return `10.213.${x}`;
  }
  throw new Error("no free 10.213.x.0/24 subnet");
}

/**
 * Makes a bridge with `prefix.1` in the root namespace and, for each name,
 * a namespace joined to it by a veth pair, with address `prefix.(10 + i)`.
 * Records every namespace and link in `made` as soon as it exists.
 */
async function makeNetwork(
  names: string[],
  prefix: string,
  made: { ns: string[]; links: string[] },
): Promise<{ host: string; ns: string; link: string }[]> {
  const id = Deno.pid.toString(36);
  const bridge = `bcx${id}b`;
  await ip("link", "add", bridge, "type", "bridge");
  made.links.push(bridge);
  await ip("addr", "add", `${prefix}.1/24`, "dev", bridge);
  await ip("link", "set", bridge, "up");
  const out = [];
  for (const [i] of names.entries()) {
    const ns = `bcn_chaos_${Deno.pid}_${i}`;
    const link = `bcx${id}v${i}`;
    const peer = `bcx${id}p${i}`;
    const host = `${prefix}.${10 + i}`;
    await ip("netns", "add", ns);
    made.ns.push(ns);
    await ip("link", "add", link, "type", "veth", "peer", "name", peer);
    made.links.push(link);
    await ip("link", "set", peer, "netns", ns);
    await ip("link", "set", link, "master", bridge);
    await ip("link", "set", link, "up");
    await ip("-n", ns, "addr", "add", `${host}/24`, "dev", peer);
    await ip("-n", ns, "link", "set", peer, "up");
    await ip("-n", ns, "link", "set", "lo", "up");
    out.push({ host, ns, link });
  }
  return out;
}

/** Removes what {@link makeNetwork} made; returns what it could not. */
async function removeNetwork(
  made: { ns: string[]; links: string[] },
): Promise<string[]> {
  const failed: string[] = [];
  for (const ns of made.ns.reverse()) {
    // Deleting a namespace also deletes the veth end inside it, and so the pair.
    await ip("netns", "del", ns).catch((e) => failed.push(e.message));
  }
  for (const link of made.links.reverse()) {
    await ip("link", "del", link).catch((e) => {
      // The kernel removes a namespace's veth pairs a moment after it.
      if (!/Cannot find device/.test(e.message)) failed.push(e.message);
    });
  }
  made.ns.length = 0;
  made.links.length = 0;
  return failed;
}

// ----------------------------------------------------------------- load

/** One transfer of the load. */
interface Transfer {
  hash: string;
  sender: number;
  nonce: bigint;
  body: Uint8Array;
  attempts: number;
  /** When and through which node it was answered with a hash. */
  answered?: { at: number; phase: string; via: string };
  /** A re-send found it already held (pending, queued or applied). */
  known?: boolean;
}

interface Sender {
  account: Account;
  nonce: bigint;
  /** The transfer not yet accepted, re-sent until it is. */
  current?: Transfer;
  busy: boolean;
}

/** Which part of the run it is, for the lost transfers' report. */
let phase = "steady";

/**
 * The steady load: every 1/RATE s the next idle sender sends its current
 * transfer (a new one once the previous was accepted) to the next regular
 * node in turn, without waiting for the answer.
 */
class Load {
  readonly transfers: Transfer[] = [];
  attempts = 0;
  /** Ticks with every sender still waiting for an answer. */
  skipped = 0;
  readonly failures = new Map<string, number>();
  /** One message per kind of rejection, for the report. */
  readonly samples = new Map<string, string>();
  readonly #senders: Sender[];
  readonly #clients: { name: string; clients: PeerClients }[];
  readonly #transports: PeerTransport[];
  readonly #to: string;
  readonly #inFlight = new Set<Promise<void>>();
  #stopped = false;
  #loop: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #nextSender = 0;
  #nextNode = 0;

  constructor(senders: Account[], to: string, nodes: ChaosNode[]) {
    this.#senders = senders.map((account) => ({
      account,
      nonce: 0n,
      busy: false,
    }));
    this.#to = to;
    this.#transports = nodes.map((n) => new PeerTransport(n.addr, "connect"));
    this.#clients = nodes.map((n, i) => ({
      name: n.name,
      clients: createPeerClients(this.#transports[i]),
    }));
  }

  start(): void {
    this.#loop = this.#run();
  }

  /** Stops sending, waits for the answers in flight, closes the clients. */
  stop(): Promise<void> {
    this.#stopped = true;
    return this.#stopping ??= (async () => {
      await this.#loop;
      await Promise.all(this.#inFlight);
      for (const t of this.#transports) t.close();
    })();
  }

  async #run(): Promise<void> {
    let next = performance.now();
    while (!this.#stopped && this.transfers.length < MAX_TXS) {
      this.#tick();
      next += 1000 / RATE;
      await sleep(Math.max(0, next - performance.now()));
    }
  }

  #tick(): void {
    const n = this.#senders.length;
    for (let k = 0; k < n; k++) {
      const index = (this.#nextSender + k) % n;
      const s = this.#senders[index];
      if (s.busy) continue;
      this.#nextSender = (index + 1) % n;
      if (s.current === undefined) {
        s.nonce++;
        const tx = s.account.signTx({
          from: s.account.address,
          to: this.#to,
          value: 1n,
          nonce: s.nonce,
          time: timeNow(),
        });
        s.current = {
          hash: txHash(tx),
          sender: index,
          nonce: s.nonce,
          body: new TextEncoder().encode(encodeSigTx(tx)),
          attempts: 0,
        };
        this.transfers.push(s.current);
      }
      const node = this.#clients[this.#nextNode++ % this.#clients.length];
      s.busy = true;
      const p: Promise<void> = this.#send(s, s.current, node).finally(() => {
        s.busy = false;
        this.#inFlight.delete(p);
      });
      this.#inFlight.add(p);
      return;
    }
    this.skipped++;
  }

  async #send(
    s: Sender,
    t: Transfer,
    node: { name: string; clients: PeerClients },
  ): Promise<void> {
    t.attempts++;
    this.attempts++;
    try {
      const res = await node.clients.tx.txSend({ Tx: t.body }, {
        timeoutMs: SEND_TIMEOUT_MS,
      });
      if (res.Hash !== t.hash) this.#fail("wrong hash", res.Hash);
      t.answered ??= { at: since(t0), phase, via: node.name };
      s.current = undefined;
    } catch (e) {
      const err = ConnectError.from(e);
      const nonce = /wrong nonce: expected (\d+), got (\d+)/.exec(err.message);
      if (
        err.code === Code.FailedPrecondition &&
        (/already (pending|queued)/.test(err.message) ||
          (nonce !== null && BigInt(nonce[1]) > BigInt(nonce[2])))
      ) {
        t.known = true;
        s.current = undefined;
      } else if (err.code === Code.FailedPrecondition) {
        this.#fail("rejected", err.rawMessage);
      } else {
        this.#fail(Code[err.code] ?? String(err.code), err.rawMessage);
      }
    }
  }

  #fail(kind: string, message: string): void {
    this.failures.set(kind, (this.failures.get(kind) ?? 0) + 1);
    if (!this.samples.has(kind)) this.samples.set(kind, message.slice(0, 160));
  }
}

// ------------------------------------------------------------ catch-ups

/** Seconds from `start` until `node` is at the authority's height. */
async function catchUp(
  node: ChaosNode,
  authority: ChaosNode,
  start: number,
): Promise<string> {
  let last = "";
  while (performance.now() - start < CATCH_UP_TIMEOUT_MS) {
    const a = await height(authority);
    const h = await height(node);
    if (a !== undefined && h !== undefined && h >= a) {
      return `${since(start).toFixed(1)} s`;
    }
    last = `${node.name} at ${h ?? "?"}, authority at ${a ?? "?"}`;
    await sleep(250);
  }
  return `not within ${CATCH_UP_TIMEOUT_MS / 1000} s (${last})`;
}

/**
 * Seconds from `start` until the authority has confirmed a block above
 * `before` and every regular node has it.
 */
async function authorityCatchUp(
  authority: ChaosNode,
  regular: ChaosNode[],
  before: number,
  start: number,
): Promise<string> {
  let last = "";
  while (performance.now() - start < CATCH_UP_TIMEOUT_MS) {
    const a = await height(authority);
    const hs = await Promise.all(regular.map(height));
    if (
      a !== undefined && a > before &&
      hs.every((h) => h !== undefined && h >= a)
    ) {
      return `${since(start).toFixed(1)} s`;
    }
    last = `authority at ${a ?? "?"} (${before} at the fault), ${
      regular.map((n, i) => `${n.name} at ${hs[i] ?? "?"}`).join(", ")
    }`;
    await sleep(250);
  }
  return `not within ${CATCH_UP_TIMEOUT_MS / 1000} s (${last})`;
}

// ------------------------------------------------------------------ run

if (NETNS) {
  const why = await netnsUnavailable();
  if (why !== undefined) {
    console.log(`bench:chaos netns: cannot run here: ${why}`);
    Deno.exit(1);
  }
}

const root = await makeTempDir("bcn_bench_chaos_");
const made = { ns: [] as string[], links: [] as string[] };
const nodes: ChaosNode[] = [];
let load: Load | undefined;

/** Stops every node, removes the network and the files; runs once. */
function cleanup(): Promise<void> {
  return cleaning ??= (async () => {
    await load?.stop().catch(() => {});
    await Promise.all(nodes.map((n) => n.proc?.stop()));
    const failed = await removeNetwork(made);
    for (const f of failed) console.log(`bench:chaos: cleanup: ${f}`);
    await Deno.remove(root, { recursive: true });
  })();
}
const interrupted = () => {
  console.log("bench:chaos: interrupted; stopping the nodes and cleaning up");
  cleanup().finally(() => Deno.exit(130));
};
Deno.addSignalListener("SIGINT", interrupted);
Deno.addSignalListener("SIGTERM", interrupted);

let code = 0;
try {
  // A chain whose genesis funds the senders, as the bootstrap's store.
  const auth = Account.create();
  const senders = Array.from({ length: SENDERS }, () => Account.create());
  const receiver = Account.create().address;
  const names = [
    "authority",
    ...Array.from(
      { length: REGULAR },
      (_, i) => `n${i + 1}`,
    ),
  ];
  for (const name of names) await Deno.mkdir(join(root, name));
  await writeKey(join(root, "authority", "keystore"), auth, PASS);
  const store = await BlockStore.open(join(root, "authority", "blockstore"));
  await store.writeGenesis(auth.signGenesis(newGenesis("chaos", {
    authority: auth.address,
    balances: senders.map((s) => [s.address, 1_000_000_000n]),
  })));

  let addrs: { host: string; port: number; ns?: string; link?: string }[];
  if (NETNS) {
    const prefix = await freeSubnet();
    const net = await makeNetwork(names, prefix, made);
    addrs = net.map((n) => ({ ...n, port: NETNS_PORT }));
  } else {
    // Ports below the ephemeral range: nodes are restarted on theirs.
    const ports: number[] = [];
    for (const _ of names) ports.push(stablePort(ports));
    addrs = ports.map((port) => ({ host: "127.0.0.1", port }));
  }
  const hosts = [...new Set(addrs.map((a) => a.host))];
  const bootAddr = `${addrs[0].host}:${addrs[0].port}`;
  for (const [i, name] of names.entries()) {
    const dir = join(root, name);
    const addr = `${addrs[i].host}:${addrs[i].port}`;
    nodes.push({
      name,
      authority: i === 0,
      addr,
      dir,
      ns: addrs[i].ns,
      link: addrs[i].link,
      args: [
        "node",
        "start",
        "--node",
        addr,
        ...(i === 0 ? ["--bootstrap"] : ["--seed", bootAddr]),
        "--keystore",
        join(dir, "keystore"),
        "--blockstore",
        join(dir, "blockstore"),
        "--period",
        "1s",
      ],
    });
  }
  const [authority, ...regular] = nodes;

  console.log(
    `bench:chaos (${
      NETNS ? "network namespaces on a bridge" : "loopback"
    }): authority + ${REGULAR} regular nodes, period 1s, ` +
      `${SENDERS} senders, ${RATE} tx/s to the regular nodes in turn`,
  );
  await start(authority, root, hosts);
  await Promise.all(regular.map((n) => start(n, root, hosts)));
  log(
    `network up: ${nodes.map((n) => `${n.name} ${n.addr}`).join(", ")}`,
  );

  load = new Load(senders, receiver, regular);
  load.start();
  log(`load started`);
  await sleep(STEADY_MS);

  const catchUps: [string, string][] = [];
  const [n1, n2, n3] = regular;

  // 1. The authority paused, or its link down.
  {
    const before = (await height(authority)) ?? 0;
    const what = NETNS
      ? `authority's link down ${AUTHORITY_FAULT_MS / 1000} s`
      : `authority paused ${AUTHORITY_FAULT_MS / 1000} s (SIGSTOP)`;
    phase = `during fault 1 (${what})`;
    log(`fault 1: ${what}, at height ${before}`);
    if (NETNS) await ip("link", "set", authority.link!, "down");
    else authority.proc!.signal("SIGSTOP");
    await sleep(AUTHORITY_FAULT_MS);
    if (NETNS) await ip("link", "set", authority.link!, "up");
    else authority.proc!.signal("SIGCONT");
    const resumed = performance.now();
    phase = "after fault 1";
    log(`fault 1 over: ${NETNS ? "link up" : "SIGCONT"}`);
    const c = await authorityCatchUp(authority, regular, before, resumed);
    catchUps.push([`1. ${what}`, c]);
    log(`fault 1: caught up: ${c}`);
    await sleep(STEADY_MS);
  }

  // 2. A regular node paused.
  {
    const what = `${n1.name} paused ${PAUSE_MS / 1000} s (SIGSTOP)`;
    phase = `during fault 2 (${what})`;
    log(`fault 2: ${what}`);
    n1.proc!.signal("SIGSTOP");
    await sleep(PAUSE_MS);
    n1.proc!.signal("SIGCONT");
    const resumed = performance.now();
    phase = "after fault 2";
    log(`fault 2 over: SIGCONT`);
    const c = await catchUp(n1, authority, resumed);
    catchUps.push([`2. ${what}`, c]);
    log(`fault 2: caught up: ${c}`);
    await sleep(STEADY_MS);
  }

  // 3. and 4. A regular node killed, or stopped, and restarted.
  for (
    const [k, node, signal] of [
      [3, n2, "SIGKILL"],
      [4, n3, "SIGTERM"],
    ] as const
  ) {
    const what = `${node.name} ${
      signal === "SIGKILL" ? "killed" : "stopped"
    } (${signal}), restarted ${DOWN_MS / 1000} s later`;
    phase = `during fault ${k} (${what})`;
    log(`fault ${k}: ${what}`);
    const status = await node.proc!.stop(signal);
    log(`fault ${k}: ${node.name} exited with code ${status.code}`);
    await sleep(DOWN_MS);
    const restarted = performance.now();
    await start(node, root, hosts);
    phase = `after fault ${k}`;
    log(
      `fault ${k}: ${node.name} serving again after ${
        since(restarted).toFixed(1)
      } s`,
    );
    const c = await catchUp(node, authority, restarted);
    catchUps.push([`${k}. ${what}`, `${c} from the restart`]);
    log(`fault ${k}: caught up: ${c}`);
    await sleep(STEADY_MS);
  }

  phase = "after the faults";
  await load.stop();
  log(`load stopped; waiting for the answered transfers to be confirmed`);

  // Everything answered, or found held on a re-send, should be confirmed.
  const accepted = load.transfers.filter((t) => t.answered || t.known);
  let confirmed = new Set<string>();
  const drained = performance.now();
  while (performance.now() - drained < DRAIN_TIMEOUT_MS) {
    confirmed = storeTxHashes(await readStore(authority));
    if (accepted.every((t) => confirmed.has(t.hash))) break;
    await sleep(1000);
  }
  log(`waited ${since(drained).toFixed(1)} s for confirmations`);

  // The stores, once the nodes have the authority's last block.
  let stores: Uint8Array[] = [];
  const compared = performance.now();
  while (performance.now() - compared < SAME_STORES_TIMEOUT_MS) {
    stores = await Promise.all(nodes.map(readStore));
    if (stores.every((s) => sameBytes(s, stores[0]))) break;
    await sleep(500);
  }

  // ------------------------------------------------------------ report
  const transfers = load.transfers;
  const answered = transfers.filter((t) => t.answered);
  const lost = answered.filter((t) => !confirmed.has(t.hash));
  const known = transfers.filter((t) => t.known);
  const unanswered = transfers.filter((t) => !t.answered && !t.known);
  const count = (ts: Transfer[]) => ts.filter((t) => confirmed.has(t.hash));
  console.log("");
  console.log(
    `transfers sent:      ${transfers.length} (${load.attempts} sends with the re-sends; ${load.skipped} ticks skipped, every sender waiting)`,
  );
  console.log(`answered (a hash):   ${answered.length}`);
  console.log(`confirmed:           ${count(answered).length} of the answered`);
  console.log(
    `lost:                ${lost.length} (answered, not in the authority's store ${
      since(drained).toFixed(0)
    } s after the load)`,
  );
  console.log(
    `held on a re-send:   ${known.length} (${count(known).length} confirmed)`,
  );
  console.log(
    `never answered:      ${unanswered.length} (${
      count(unanswered).length
    } confirmed)`,
  );
  console.log(
    `send failures:       ${
      [...load.failures].map(([k, v]) => `${k} ${v}`).join(", ") || "none"
    }`,
  );
  for (const [k, m] of load.samples) console.log(`  e.g. ${k}: ${m}`);
  if (lost.length > 0) {
    const byPhase = new Map<string, number>();
    for (const t of lost) {
      const p = t.answered!.phase;
      byPhase.set(p, (byPhase.get(p) ?? 0) + 1);
    }
    console.log(`lost, by when they were answered:`);
    for (const [p, n] of byPhase) {
      console.log(`  ${String(n).padStart(5)}  ${p}`);
    }
    console.log(`lost, by sender (a lost nonce holds back every later one):`);
    for (let s = 0; s < SENDERS; s++) {
      const mine = lost.filter((t) => t.sender === s);
      if (mine.length === 0) continue;
      const first = mine[0];
      console.log(
        `  sender ${s + 1}: ${mine.length} lost from nonce ${first.nonce} ` +
          `(answered by ${first.answered!.via} at t=${
            first.answered!.at.toFixed(1)
          } s, ${first.answered!.phase})`,
      );
    }
  }
  console.log(`catch-up:`);
  for (const [what, c] of catchUps) console.log(`  ${what}: ${c}`);
  const txCount = storeTxHashes(stores[0]).size;
  const blocks = stores.map((s) =>
    new TextDecoder().decode(s).split("\n").length - 1
  );
  if (stores.every((s) => sameBytes(s, stores[0]))) {
    console.log(
      `stores: identical on all ${nodes.length} nodes ` +
        `(${blocks[0]} blocks, ${txCount} transfers, ${
          stores[0].length
        } bytes)`,
    );
  } else {
    console.log(
      `stores: DIFFERENT after ${SAME_STORES_TIMEOUT_MS / 1000} s: ${
        nodes.map((n, i) => `${n.name} ${blocks[i]} blocks`).join(", ")
      }`,
    );
  }
  for (const n of nodes) {
    if (n.proc?.exited && !n.proc.ending) {
      console.log(`${n.name} exited by itself; its last lines:`);
      for (const l of n.proc.stderr.slice(-10)) console.log(`  ${l}`);
    }
  }
} catch (e) {
  code = 1;
  console.log(`bench:chaos: failed: ${(e as Error).stack ?? e}`);
  for (const n of nodes) {
    console.log(`--- ${n.name} (${n.addr}), last lines of stderr:`);
    for (const l of n.proc?.stderr ?? []) console.log(`  ${l}`);
  }
} finally {
  await cleanup();
  Deno.removeSignalListener("SIGINT", interrupted);
  Deno.removeSignalListener("SIGTERM", interrupted);
}
Deno.exit(code);
