/**
 * CPU time of a process's threads, from `/proc` (Linux), for the
 * benchmarks: where a node's CPU goes (its main thread, its verification
 * workers, V8's helper threads), so a figure can be explained, not only
 * read.
 *
 * @module
 */

/** CPU seconds (user + system) of each thread of `pid`, by thread id. */
export interface ThreadTimes {
  /** The thread's name (`deno`, `worker-1`, `V8 DefaultWorke`...). */
  readonly name: string;
  /** CPU seconds it has used so far. */
  readonly seconds: number;
  /** Whether it is the process's main thread. */
  readonly main: boolean;
}

/**
 * The CPU seconds each thread of `pid` has used so far, by thread id; an
 * empty map where `/proc` cannot be read (not Linux, a process gone).
 *
 * @example
 * ```ts
 * import { threadTimes } from "./thread_cpu.ts";
 * const mine = threadTimes(Deno.pid);
 * console.log(mine.size > 0 ? "per-thread CPU available" : "no /proc");
 * ```
 */
export function threadTimes(pid: number): Map<string, ThreadTimes> {
  const times = new Map<string, ThreadTimes>();
  const ticks = 100; // USER_HZ: Linux reports in 1/100 s on every platform.
  try {
    for (const entry of Deno.readDirSync(`/proc/${pid}/task`)) {
      try {
        const stat = Deno.readTextFileSync(
          `/proc/${pid}/task/${entry.name}/stat`,
        );
        // The name is in parentheses and may hold spaces.
        const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        const seconds = (Number(fields[11]) + Number(fields[12])) / ticks;
        times.set(entry.name, {
          name,
          seconds,
          main: entry.name === String(pid),
        });
      } catch {
        // The thread ended meanwhile.
      }
    }
  } catch {
    // No /proc here, or the process is gone.
  }
  return times;
}

/**
 * The CPU seconds used between two readings of {@link threadTimes}, summed
 * by kind of thread: `main`, `workers` (verification workers), `v8` (V8's
 * helper threads: garbage collection, compilation) and `other`; "" when
 * there is nothing to tell.
 *
 * @example
 * ```ts
 * import { cpuSplit, threadTimes } from "./thread_cpu.ts";
 * const before = threadTimes(Deno.pid);
 * console.log(cpuSplit(before, threadTimes(Deno.pid)));
 * ```
 */
export function cpuSplit(
  before: Map<string, ThreadTimes>,
  after: Map<string, ThreadTimes>,
): string {
  if (after.size === 0) return "";
  const sums = { main: 0, workers: 0, v8: 0, other: 0 };
  for (const [tid, t] of after) {
    const used = t.seconds - (before.get(tid)?.seconds ?? 0);
    if (t.main) sums.main += used;
    else if (t.name.startsWith("worker-")) sums.workers += used;
    else if (t.name.startsWith("V8 ")) sums.v8 += used;
    else sums.other += used;
  }
  const total = sums.main + sums.workers + sums.v8 + sums.other;
  const pct = (s: number) =>
    `${((100 * s) / Math.max(total, 1e-9)).toFixed(0)}%`;
  return `${total.toFixed(1)} s CPU: verification workers ${
    sums.workers.toFixed(1)
  } s (${pct(sums.workers)}), main thread ${sums.main.toFixed(1)} s (${
    pct(sums.main)
  }), V8 helper threads ${sums.v8.toFixed(1)} s (${pct(sums.v8)}), other ${
    sums.other.toFixed(1)
  } s`;
}

/**
 * The CPU seconds all threads used between two readings of
 * {@link threadTimes}.
 *
 * @example
 * ```ts
 * import { cpuTotal, threadTimes } from "./thread_cpu.ts";
 * const before = threadTimes(Deno.pid);
 * console.log(cpuTotal(before, threadTimes(Deno.pid)).toFixed(2));
 * ```
 */
export function cpuTotal(
  before: Map<string, ThreadTimes>,
  after: Map<string, ThreadTimes>,
): number {
  let total = 0;
  for (const [tid, t] of after) {
    total += t.seconds - (before.get(tid)?.seconds ?? 0);
  }
  return total;
}
