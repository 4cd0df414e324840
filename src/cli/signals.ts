/**
 * The signals that stop a long-running command (`node start`, `dev`,
 * `node subscribe`): Ctrl-C everywhere, and SIGTERM where it exists.
 *
 * @module
 */

/**
 * The signals a long-running command stops on (Windows has no SIGTERM to
 * listen to).
 *
 * @example
 * ```ts
 * import { STOP_SIGNALS } from "./signals.ts";
 *
 * console.log(STOP_SIGNALS.includes("SIGINT")); // true
 * ```
 */
export const STOP_SIGNALS: readonly Deno.Signal[] = Deno.build.os === "windows"
  ? ["SIGINT"]
  : ["SIGINT", "SIGTERM"];
