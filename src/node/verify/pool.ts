/**
 * Verification on every core: a pool of Web Workers that decode blocks and
 * transactions and work out their hashes, Merkle roots and signers, and a
 * pipeline that keeps the pool busy ahead of the apply step, handing results
 * back in order with a bounded look-ahead. What the workers work out is
 * recorded beside each decoded value (`primeBlock`), so the state applies
 * it with the same checks and one-line errors as if it had done it all.
 *
 * @module
 */
import { primeBlock, type SigBlock } from "../../chain/block.ts";
import { primeTx, type SigTx } from "../../chain/tx.ts";
import {
  handleRequest,
  packItems,
  type WorkerRequest,
  type WorkerResponse,
} from "./work.ts";

/** One item of a checked batch: the value (facts recorded) or an error. */
export type Checked<T> = { value: T } | { error: string };

/** Options of {@link VerifyPool}. */
export interface VerifyPoolOptions {
  /** How many workers; `navigator.hardwareConcurrency` by default. */
  workers?: number;
  /** Told, once per worker, when one cannot start or fails. */
  log?: (message: string) => void;
}

interface Slot {
  /** None when the work runs on the calling thread. */
  worker: Worker | undefined;
  busy: number;
  /**
   * Resolves true once the worker answered its first message (a ping),
   * false when it failed to start or failed later: then this slot's work
   * runs on the calling thread.
   */
  ready: Promise<boolean>;
  /** Settles {@link Slot.ready}. */
  started: (ok: boolean) => void;
  dead: boolean;
}

interface Waiter {
  slot: Slot;
  resolve: (r: WorkerResponse) => void;
  reject: (e: Error) => void;
}

/** The number of cores, at least 1. */
export function defaultWorkers(): number {
  const n = globalThis.navigator?.hardwareConcurrency ?? 1;
  return Math.max(1, Math.floor(n));
}

/**
 * A pool of verification workers, started on first use. Close it when done:
 * live workers keep the process running.
 *
 * @example
 * ```ts
 * import { VerifyPool } from "./pool.ts";
 * const pool = new VerifyPool({ workers: 2 });
 * try {
 *   const [r] = await pool.verifyBlocks([new TextEncoder().encode("{}")]);
 *   console.log("error" in r ? r.error : r.value.number);
 * } finally {
 *   pool.close();
 * }
 * ```
 */
export class VerifyPool {
  /** How many workers the pool runs. */
  readonly size: number;
  #slots: Slot[] | undefined;
  readonly #waiting = new Map<number, Waiter>();
  #nextId = 1;
  #closed = false;
  readonly #onWorkerError: ((message: string) => void) | undefined;

  /** Prepares a pool; no worker starts before the first request. */
  constructor(options: VerifyPoolOptions = {}) {
    this.#onWorkerError = options.log;
    const n = options.workers ?? defaultWorkers();
    if (!Number.isInteger(n) || n < 1) {
      throw new RangeError(
        `verification workers: expected 1 or more, got ${n}`,
      );
    }
    this.size = n;
  }

  /** Whether some worker has nothing to do right now. */
  get hasIdleWorker(): boolean {
    return !this.#slots || this.#slots.some((s) => s.busy === 0);
  }

  /**
   * Decodes and checks a batch of blocks on one worker. Each result is the
   * block (its facts recorded, so applying it recomputes nothing) or the
   * decoding error's message. Blocks numbered up to `assumeValidTo` are
   * assumed valid: their transactions' signatures are not recovered (the
   * block's signature, hash and Merkle root still are).
   */
  async verifyBlocks(
    items: Uint8Array[],
    assumeValidTo = 0n,
  ): Promise<Checked<SigBlock>[]> {
    const res = await this.#call({
      id: 0,
      kind: "blocks",
      items: packItems(items),
      ...(assumeValidTo > 0n ? { assumeValidTo: String(assumeValidTo) } : {}),
    });
    if (res.kind !== "blocks") {
      throw new Error("verification worker: bad answer");
    }
    return res.results.map((r) => {
      if ("error" in r) return r;
      primeBlock(r.block, r.facts);
      return { value: r.block };
    });
  }

  /** Decodes and checks a batch of transactions on one worker. */
  async verifyTxs(items: Uint8Array[]): Promise<Checked<SigTx>[]> {
    const res = await this.#call({
      id: 0,
      kind: "txs",
      items: packItems(items),
    });
    if (res.kind !== "txs") throw new Error("verification worker: bad answer");
    return res.results.map((r) => {
      if ("error" in r) return r;
      primeTx(r.tx, r.facts);
      return { value: r.tx };
    });
  }

  /**
   * Has every worker recover signatures for `ms` at once (with `known`,
   * check them against their signer's known key instead); resolves to the
   * total count. The pure rate of the pool, a bound for benchmarks.
   */
  async recoverFor(ms: number, known = false): Promise<number> {
    this.#start();
    const counts = await Promise.all(
      this.#slots!.map((slot) =>
        this.#send(slot, { id: 0, kind: "recover", ms, known }).then((r) =>
          r.kind === "recover" ? r.count : 0
        )
      ),
    );
    return counts.reduce((a, b) => a + b, 0);
  }

  /** Stops every worker; requests under way reject. Safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const s of this.#slots ?? []) {
      s.worker?.terminate();
      // Requests waiting for a worker to start see the pool closed.
      s.started(false);
    }
    this.#slots = undefined;
    const error = new Error("the verification pool is closed");
    for (const w of this.#waiting.values()) w.reject(error);
    this.#waiting.clear();
  }

  #start(): void {
    if (this.#closed) throw new Error("the verification pool is closed");
    if (this.#slots) return;
    // A static URL, so `deno compile --include` can embed the module.
    const url = new URL("./worker.ts", import.meta.url);
    // Without read access to a local module a worker cannot start (and
    // Deno prints an uncaught error for each): verify on this thread.
    const readable = url.protocol !== "file:" ||
      Deno.permissions.querySync({ name: "read", path: url }).state ===
        "granted";
    if (!readable) {
      this.#onWorkerError?.(
        `no read access to ${url.pathname}: verifying on the main thread`,
      );
    }
    this.#slots = Array.from(
      { length: this.size },
      () => readable ? this.#spawn(url) : this.#inThread(),
    );
  }

  // A slot whose work runs on the calling thread.
  #inThread(): Slot {
    return {
      worker: undefined,
      busy: 0,
      ready: Promise.resolve(false),
      started: () => {},
      dead: true,
    };
  }

  #spawn(url: URL): Slot {
    const worker = new Worker(url, { type: "module" });
    const started = Promise.withResolvers<boolean>();
    const slot: Slot = {
      worker,
      busy: 0,
      ready: started.promise,
      started: started.resolve,
      dead: false,
    };
    worker.onmessage = (e: MessageEvent<WorkerResponse>) => {
      if (e.data.kind === "ping") return started.resolve(true);
      const w = this.#waiting.get(e.data.id);
      if (!w) return;
      this.#waiting.delete(e.data.id);
      slot.busy--;
      w.resolve(e.data);
    };
    worker.onerror = (e: ErrorEvent) => {
      // A worker that cannot start (no read access to its module) or that
      // failed fails neither the process nor the node: its requests in
      // flight fail (their callers verify in place), and its later work runs
      // on this thread. Said once.
      e.preventDefault();
      if (!slot.dead) {
        this.#onWorkerError?.(
          `verification worker failed (${e.message}); verifying on the main thread`,
        );
      }
      slot.dead = true;
      started.resolve(false);
      worker.terminate();
      const error = new Error(`verification worker failed: ${e.message}`);
      for (const [id, w] of this.#waiting) {
        if (w.slot !== slot) continue;
        this.#waiting.delete(id);
        w.reject(error);
      }
      slot.busy = 0;
    };
    worker.postMessage({ id: 0, kind: "ping" } satisfies WorkerRequest);
    return slot;
  }

  #call(req: WorkerRequest): Promise<WorkerResponse> {
    this.#start();
    let slot = this.#slots![0];
    for (const s of this.#slots!) if (s.busy < slot.busy) slot = s;
    return this.#send(slot, req);
  }

  // The slot counts as busy from here on, before any await: requests made
  // in the same tick go to different workers.
  async #send(slot: Slot, req: WorkerRequest): Promise<WorkerResponse> {
    slot.busy++;
    let posted = false;
    try {
      // Nothing is moved to a worker before it is known to run.
      const ready = await slot.ready;
      if (this.#closed) throw new Error("the verification pool is closed");
      if (!ready || slot.dead) {
        // Let other work run between batches, as a worker would.
        await new Promise((resolve) => setTimeout(resolve, 0));
        if (this.#closed) throw new Error("the verification pool is closed");
        return handleRequest({ ...req, id: 0 }).response;
      }
      const id = this.#nextId++;
      const { promise, resolve, reject } = Promise.withResolvers<
        WorkerResponse
      >();
      this.#waiting.set(id, { slot, resolve, reject });
      const message = { ...req, id };
      if (req.kind === "blocks" || req.kind === "txs") {
        slot.worker!.postMessage(message, [req.items.buffer]);
      } else slot.worker!.postMessage(message);
      posted = true;
      return await promise;
    } finally {
      // Answered (onmessage counted it down), failed, or done in place.
      if (!posted && slot.busy > 0) slot.busy--;
    }
  }
}

/** Options of {@link verifiedBlocks}. */
export interface PipelineOptions {
  /** The most blocks read ahead of the consumer; 256 by default. */
  maxBlocks?: number;
  /** The most bytes read ahead of the consumer; 8 MiB by default. */
  maxBytes?: number;
  /** The most blocks sent to one worker at once; 32 by default. */
  batch?: number;
  /**
   * Blocks numbered up to this one are assumed valid (see
   * {@link VerifyPool.verifyBlocks}); none by default.
   */
  assumeValidTo?: bigint;
}

/**
 * Verifies the blocks of `source` (raw JSON each) on the pool, ahead of the
 * consumer, and yields them in the source's order: each is the block (facts
 * recorded) or its decoding error. At most `maxBlocks` blocks and
 * `maxBytes` bytes are read ahead, so memory stays flat whatever the
 * chain's length. An error of the source is thrown after every block it
 * gave before it. Leaving the loop early stops reading the source at its
 * next block (abort the source to stop it at once).
 *
 * @example
 * ```ts
 * import { verifiedBlocks, VerifyPool } from "./pool.ts";
 * async function* lines(): AsyncIterable<Uint8Array> {}
 * const pool = new VerifyPool();
 * try {
 *   for await (const r of verifiedBlocks(pool, lines())) {
 *     if ("error" in r) throw new Error(r.error);
 *   }
 * } finally {
 *   pool.close();
 * }
 * ```
 */
export async function* verifiedBlocks(
  pool: VerifyPool,
  source: AsyncIterable<Uint8Array>,
  options: PipelineOptions = {},
): AsyncGenerator<Checked<SigBlock>> {
  const maxBlocks = Math.max(1, options.maxBlocks ?? 256);
  const maxBytes = Math.max(1, options.maxBytes ?? 8 * 1024 * 1024);
  const batchSize = Math.max(1, options.batch ?? 32);
  // Batches in source order; each settles to its items' results.
  const batches: {
    size: number;
    bytes: number;
    done: Promise<Checked<SigBlock>[]>;
  }[] = [];
  let batch: Uint8Array[] = [];
  let batchBytes = 0;
  let aheadBlocks = 0;
  let aheadBytes = 0;
  let finished = false;
  let failed: { error: unknown } | undefined;
  let stopped = false;
  let wake = Promise.withResolvers<void>();
  const poke = () => {
    wake.resolve();
    wake = Promise.withResolvers<void>();
  };
  const dispatch = () => {
    if (batch.length === 0) return;
    const items = batch;
    const done = pool.verifyBlocks(items, options.assumeValidTo);
    // Settled results are picked up in order by the consumer; a worker
    // failure surfaces there too.
    done.catch(() => {}).finally(() => {
      if (batch.length > 0 && pool.hasIdleWorker) dispatch();
      poke();
    });
    batches.push({ size: items.length, bytes: batchBytes, done });
    batch = [];
    batchBytes = 0;
    poke();
  };
  const producer = (async () => {
    try {
      for await (const bytes of source) {
        if (stopped) return;
        batch.push(bytes);
        batchBytes += bytes.length;
        aheadBlocks++;
        aheadBytes += bytes.length;
        // Small batches while a worker is idle (low latency for relayed
        // blocks), full ones while all are busy (less messaging).
        if (batch.length >= batchSize || pool.hasIdleWorker) dispatch();
        while (
          !stopped && (aheadBlocks >= maxBlocks || aheadBytes >= maxBytes)
        ) {
          dispatch();
          await wake.promise;
        }
      }
    } catch (e) {
      failed = { error: e };
    } finally {
      if (!stopped) dispatch();
      finished = true;
      poke();
    }
  })();
  try {
    for (;;) {
      if (batches.length === 0) {
        if (finished) {
          if (failed) throw failed.error;
          return;
        }
        await wake.promise;
        continue;
      }
      const { size, bytes, done } = batches.shift()!;
      for (const item of await done) yield item;
      aheadBlocks -= size;
      aheadBytes -= bytes;
      poke();
    }
  } finally {
    stopped = true;
    poke();
    // Results still in flight are dropped; they reject only if the pool
    // closes, and nobody waits for them.
    for (const b of batches) b.done.catch(() => {});
    await producer;
  }
}

/**
 * The pool's pure signature-recovery rate: every worker recovers for
 * `seconds` at once. A bound for the sync benchmark. With `known`, the
 * pool's pure rate of checking signatures of signers it has seen before
 * (a chain's repeat senders, its authority), the bound where all signers
 * repeat.
 *
 * @example
 * ```ts
 * import { recoveryRate } from "./pool.ts";
 * const { rate, workers } = await recoveryRate({ seconds: 0.1 });
 * console.log(`${rate.toFixed(0)}/s on ${workers} workers`);
 * ```
 */
export async function recoveryRate(
  options: { seconds: number; workers?: number; known?: boolean },
): Promise<{ rate: number; workers: number }> {
  const pool = new VerifyPool({ workers: options.workers });
  try {
    // A first short round loads the workers, so start-up is not counted.
    await pool.recoverFor(50, options.known);
    const t0 = performance.now();
    const count = await pool.recoverFor(options.seconds * 1000, options.known);
    return {
      rate: count / ((performance.now() - t0) / 1000),
      workers: pool.size,
    };
  } finally {
    pool.close();
  }
}
