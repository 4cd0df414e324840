/**
 * How far apart two words are, for "did you mean" suggestions.
 *
 * @module
 */

/**
 * The optimal string alignment distance of `a` and `b`: insertions,
 * deletions, substitutions and swaps of two neighbours each cost 1, so
 * `sned` is 1 away from `send`. Bounded work: words longer than 100
 * characters are compared on their first 100.
 *
 * @example
 * ```ts
 * import { editDistance } from "./edit_distance.ts";
 *
 * editDistance("sned", "send"); // 1
 * editDistance("stauts", "status"); // 1
 * editDistance("tx", "block"); // 5
 * ```
 */
export function editDistance(a: string, b: string): number {
  a = a.slice(0, 100);
  b = b.slice(0, 100);
  // Three rows: the one before the previous is needed for swaps.
  let older: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d = Math.min(d, older[j - 2] + 1);
      }
      row.push(d);
    }
    older = prev;
    prev = row;
  }
  return prev[b.length];
}

/**
 * The candidate nearest to `word`, when it is near enough to be what was
 * meant (at most 2 edits, and fewer than half its length); `undefined`
 * otherwise. Ties go to the first candidate.
 *
 * @example
 * ```ts
 * import { closest } from "./edit_distance.ts";
 *
 * closest("tx sned", ["tx send", "tx sign"]); // "tx send"
 * closest("bogus", ["tx send", "dev"]); // undefined
 * ```
 */
export function closest(
  word: string,
  candidates: readonly string[],
): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  const limit = Math.min(2, Math.ceil(word.length / 2) - 1);
  return bestDistance <= limit && bestDistance > 0 ? best : undefined;
}
