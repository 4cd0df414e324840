/**
 * Slows down password guessing on the keys of the node's key store, so a
 * guesser gets a few tries and then one every 10 s, from however many
 * connections, while the owner waits at most 10 s.
 *
 * @module
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { KeyStoreError } from "../store/key_store.ts";
import { errorChain } from "../util/errors.ts";

/** Options of {@link PasswordThrottle}; the defaults are the node's. */
export interface PasswordThrottleOptions {
  /** Wrong passwords in a row an account gets before attempts wait. Default 3. */
  freeFailures?: number;
  /** The wait after the last free wrong password, in ms. Default 500. */
  baseDelayMs?: number;
  /** The longest wait, in ms. Default 10 000. */
  maxDelayMs?: number;
  /** Attempts on one account that may queue behind the running one. Default 8. */
  maxQueued?: number;
  /** An account's wrong passwords are forgotten this long after the last one. Default 15 min. */
  forgetMs?: number;
  /** The warning line is logged at most once per this many ms. Default 60 000. */
  logIntervalMs?: number;
  /**
   * The clock, in ms (tests inject one). Default `performance.now`, which
   * a change of the wall clock does not move.
   */
  now?: () => number;
  /** Where the warning line goes; nowhere by default. */
  log?: (message: string) => void;
}

/** Counts of a {@link PasswordThrottle} since it was created. */
export interface PasswordThrottleStats {
  /** Attempts that gave a wrong password. */
  wrongPasswords: number;
  /** Attempts refused without trying the password (too early or too many queued). */
  throttled: number;
}

/** Options of {@link PasswordThrottle.attempt}. */
export interface AttemptOptions {
  /** The client's address, named in the warning line. */
  client?: string;
}

interface Entry {
  /** Wrong passwords in a row. */
  failures: number;
  /** When the last wrong password was given. */
  lastFailure: number;
  /** No attempt before this time once `failures` reached the free ones. */
  notBefore: number;
  /** Attempts running or queued. */
  active: number;
  /** Settles when the last queued attempt is done. */
  tail: Promise<void>;
}

/**
 * Per-account throttle of password attempts.
 *
 * Attempts on one account run one at a time. After a few wrong passwords for
 * an account, the next attempt on it, from any client, must wait: 0.5 s after
 * the third wrong password, twice as long after each further one, at most
 * 10 s. An attempt that comes before the wait is over is refused at once
 * (ResourceExhausted, saying how long is left), without trying the password,
 * so it costs nothing and does not lengthen the wait; once the wait is over
 * the right password works at once and clears the account's record.
 *
 * Wrong passwords and refused attempts are counted ({@link PasswordThrottle.stats})
 * and reported in one warning line (without any password) at most once per
 * interval.
 *
 * @example
 * ```ts
 * import { PasswordThrottle } from "./password_throttle.ts";
 * const throttle = new PasswordThrottle({ log: console.error });
 * const value = await throttle.attempt("ab12", () => Promise.resolve(42));
 * ```
 */
export class PasswordThrottle {
  readonly #free: number;
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #maxQueued: number;
  readonly #forgetMs: number;
  readonly #logIntervalMs: number;
  readonly #now: () => number;
  readonly #log: (message: string) => void;
  readonly #entries = new Map<string, Entry>();
  readonly #stats: PasswordThrottleStats = { wrongPasswords: 0, throttled: 0 };
  // What happened since the last warning line.
  #lastLog: number | undefined;
  #pending = { wrong: 0, throttled: 0, accounts: new Set<string>() };
  #lastClient: string | undefined;

  /**
   * A throttle with the node's defaults unless `options` say otherwise.
   *
   * @example
   * ```ts
   * import { PasswordThrottle } from "./password_throttle.ts";
   * const throttle = new PasswordThrottle({ maxDelayMs: 5000 });
   * ```
   */
  constructor(options: PasswordThrottleOptions = {}) {
    this.#free = options.freeFailures ?? 3;
    this.#baseMs = options.baseDelayMs ?? 500;
    this.#maxMs = options.maxDelayMs ?? 10_000;
    this.#maxQueued = options.maxQueued ?? 8;
    this.#forgetMs = options.forgetMs ?? 15 * 60_000;
    this.#logIntervalMs = options.logIntervalMs ?? 60_000;
    this.#now = options.now ?? (() => performance.now());
    this.#log = options.log ?? (() => {});
  }

  /**
   * Runs `check` (which tries a password on `account`'s key) when the
   * account's wait is over, after the attempts queued before it. A
   * {@link KeyStoreError} of kind `wrong-password` from `check` (or an error
   * caused by one) counts as a wrong password; a result clears the account's record. Rejects with
   * ResourceExhausted, without running `check`, while the account must wait
   * or when too many attempts are queued on it.
   *
   * @example
   * ```ts
   * import { PasswordThrottle } from "./password_throttle.ts";
   * const throttle = new PasswordThrottle();
   * await throttle.attempt("ab12", () => Promise.resolve("signed"), {
   *   client: "127.0.0.1",
   * });
   * ```
   */
  async attempt<T>(
    account: string,
    check: () => Promise<T>,
    options: AttemptOptions = {},
  ): Promise<T> {
    const entry = this.#entry(account);
    if (entry.active > this.#maxQueued) {
      this.#refused(account, options.client);
      throw new ConnectError(
        `too many password attempts queued for account ${account}: try again later`,
        Code.ResourceExhausted,
      );
    }
    entry.active++;
    const previous = entry.tail;
    const done = Promise.withResolvers<void>();
    entry.tail = done.promise;
    try {
      await previous;
      const now = this.#now();
      if (entry.failures > 0 && now - entry.lastFailure >= this.#forgetMs) {
        entry.failures = 0;
      }
      if (entry.failures >= this.#free && now < entry.notBefore) {
        this.#refused(account, options.client);
        const seconds = Math.ceil((entry.notBefore - now) / 100) / 10;
        throw new ConnectError(
          `too many wrong passwords for account ${account}: try again in ${seconds}s`,
          Code.ResourceExhausted,
        );
      }
      try {
        const result = await check();
        entry.failures = 0;
        return result;
      } catch (e) {
        if (isWrongPassword(e)) {
          this.#wrong(entry, account, options.client);
        }
        throw e;
      }
    } finally {
      entry.active--;
      done.resolve();
      if (entry.active === 0 && entry.failures === 0) {
        this.#entries.delete(account);
      }
    }
  }

  /**
   * The counts since the throttle was created.
   *
   * @example
   * ```ts
   * import { PasswordThrottle } from "./password_throttle.ts";
   * new PasswordThrottle().stats(); // { wrongPasswords: 0, throttled: 0 }
   * ```
   */
  stats(): PasswordThrottleStats {
    return { ...this.#stats };
  }

  /**
   * How long, in ms, the next attempt on `account` must wait from now
   * (0 when it may run at once).
   *
   * @example
   * ```ts
   * import { PasswordThrottle } from "./password_throttle.ts";
   * new PasswordThrottle().waitMs("ab12"); // 0
   * ```
   */
  waitMs(account: string): number {
    const entry = this.#entries.get(account);
    if (!entry || entry.failures < this.#free) return 0;
    return Math.max(0, entry.notBefore - this.#now());
  }

  #entry(account: string): Entry {
    let entry = this.#entries.get(account);
    if (!entry) {
      // Entries outlive their attempts only while they hold wrong passwords,
      // so there are at most as many as accounts with a key file; old ones
      // are swept now and then.
      if (this.#entries.size >= 1024) this.#sweep();
      entry = {
        failures: 0,
        lastFailure: 0,
        notBefore: 0,
        active: 0,
        tail: Promise.resolve(),
      };
      this.#entries.set(account, entry);
    }
    return entry;
  }

  #sweep(): void {
    const now = this.#now();
    for (const [account, e] of this.#entries) {
      if (e.active === 0 && now - e.lastFailure >= this.#forgetMs) {
        this.#entries.delete(account);
      }
    }
  }

  #wrong(entry: Entry, account: string, client: string | undefined): void {
    const now = this.#now();
    entry.failures++;
    entry.lastFailure = now;
    if (entry.failures >= this.#free) {
      const doublings = Math.min(entry.failures - this.#free, 30);
      entry.notBefore = now +
        Math.min(this.#baseMs * 2 ** doublings, this.#maxMs);
    }
    this.#stats.wrongPasswords++;
    this.#pending.wrong++;
    this.#note(account, client);
  }

  #refused(account: string, client: string | undefined): void {
    this.#stats.throttled++;
    this.#pending.throttled++;
    this.#note(account, client);
  }

  /** Logs what happened since the last line, at most once per interval. */
  #note(account: string, client: string | undefined): void {
    this.#pending.accounts.add(account);
    if (this.#pending.accounts.size > 1000) this.#pending.accounts.clear();
    this.#lastClient = client ?? this.#lastClient;
    const now = this.#now();
    if (
      this.#lastLog !== undefined && now - this.#lastLog < this.#logIntervalMs
    ) return;
    const { wrong, throttled, accounts } = this.#pending;
    const since = this.#lastLog === undefined
      ? ""
      : ` in the last ${Math.round((now - this.#lastLog) / 1000)}s`;
    const from = this.#lastClient ? ` from ${this.#lastClient}` : "";
    this.#log(
      `warning: ${wrong} wrong password(s) and ${throttled} throttled attempt(s) on ${accounts.size} key(s)${since}, last on account ${account}${from} (after ${this.#free} wrong passwords for an account, its next attempts wait, up to ${
        this.#maxMs / 1000
      }s)`,
    );
    this.#lastLog = now;
    this.#pending = { wrong: 0, throttled: 0, accounts: new Set() };
  }
}

/** A wrong-password key-store error, or an error caused by one. */
function isWrongPassword(e: unknown): boolean {
  const err = errorChain(e).find((c) => c instanceof KeyStoreError);
  return err?.kind === "wrong-password";
}
