/**
 * The Account service: new accounts in the node's key store, and confirmed
 * balances.
 *
 * @module
 */
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { Account } from "../chain/account.ts";
import type { State } from "../chain/state.ts";
import {
  checkPassword,
  KeyStoreError,
  listKeys,
  writeKey,
} from "../store/key_store.ts";
import type { Account as AccountService } from "./gen/account_pb.ts";
import { messageOf, messageWithoutPaths } from "../util/errors.ts";
import { KeyAccess } from "./key_access.ts";

/** How many new accounts AccountCreate makes a minute, by default. */
export const ACCOUNTS_PER_MINUTE = 10;
/** The most key files a key store may hold for AccountCreate to add one, by default. */
export const MAX_KEY_FILES = 1000;

/** Bounds of AccountCreate; the defaults are the node's. */
export interface AccountCreateLimits {
  /**
   * New accounts a minute, with a burst of as many at once.
   * Default {@link ACCOUNTS_PER_MINUTE}.
   */
  perMinute?: number;
  /**
   * No new key file once the key store holds this many.
   * Default {@link MAX_KEY_FILES}.
   */
  maxKeyFiles?: number;
  /**
   * The clock, in ms (tests inject one). Default `performance.now`, which
   * a change of the wall clock does not move.
   */
  now?: () => number;
}

/**
 * What AccountBalance needs from the node's ledger (the node's `Ledger`
 * implements it).
 */
export interface AccountLedger {
  /** The confirmed balances. */
  readonly state: Pick<State, "balance">;
}

/** What the Account service works on. */
export interface AccountBackend {
  /** The node's ledger. */
  readonly ledger: AccountLedger;
  /** The directory of the node's key files. */
  readonly keyStoreDir: string;
  /** Who may call AccountCreate; local clients only by default. */
  readonly keyAccess?: KeyAccess;
  /** Bounds of AccountCreate. */
  readonly createLimits?: AccountCreateLimits;
  /**
   * Where failures the operator must look into go, with the key store's
   * path (clients are told them without it); nowhere by default.
   */
  readonly log?: (message: string) => void;
}

/**
 * The Account service on a ledger and a key store:
 * - AccountCreate makes a random account, writes its key encrypted with
 *   `Password` (InvalidArgument when shorter than 5 bytes) and returns its
 *   address; only for clients `keyAccess` allows (PermissionDenied
 *   otherwise), at most `perMinute` a minute and only while the key store
 *   holds fewer than `maxKeyFiles` key files (ResourceExhausted otherwise);
 * - AccountBalance returns the confirmed balance of `Address` (NotFound for
 *   an account that has never held a balance, InvalidArgument when empty).
 */
export function accountMethods(
  backend: AccountBackend,
): ServiceImpl<typeof AccountService> {
  const keyAccess = backend.keyAccess ?? new KeyAccess();
  const limits = backend.createLimits ?? {};
  const perMinute = limits.perMinute ?? ACCOUNTS_PER_MINUTE;
  const maxKeyFiles = limits.maxKeyFiles ?? MAX_KEY_FILES;
  const log = backend.log ?? (() => {});
  const now = limits.now ?? (() => performance.now());
  // A token bucket: at most `perMinute` tokens, refilled continuously.
  const refillMs = 60_000 / perMinute;
  let tokens = perMinute;
  let last = now();
  // One creation at a time, so that concurrent calls cannot pass the key
  // file count together.
  let queue: Promise<unknown> = Promise.resolve();
  function takeToken(): void {
    const t = now();
    tokens = Math.min(perMinute, tokens + Math.max(0, t - last) / refillMs);
    last = t;
    if (tokens < 1) {
      // Rounded to the ms first: the float sum is a hair off.
      const seconds = Math.ceil(Math.round((1 - tokens) * refillMs) / 1000);
      throw new ConnectError(
        `too many new accounts: this node creates at most ${perMinute} a minute; try again in ${seconds}s`,
        Code.ResourceExhausted,
      );
    }
    tokens--;
  }
  async function create(password: string): Promise<string> {
    const held = await countKeys(backend.keyStoreDir, log);
    if (held >= maxKeyFiles) {
      log(
        `AccountCreate: key store ${backend.keyStoreDir} is full (${held} key files)`,
      );
      throw new ConnectError(
        `the node's key store is full: it holds ${held} key files, the most AccountCreate fills it to; remove unused key files to make room`,
        Code.ResourceExhausted,
      );
    }
    const account = Account.create();
    try {
      await writeKey(backend.keyStoreDir, account, password);
    } catch (e) {
      if (e instanceof KeyStoreError) {
        throw new ConnectError(e.publicMessage, Code.InvalidArgument);
      }
      log(
        `AccountCreate: cannot write the key of account ${account.address}: ${
          messageOf(e)
        }`,
      );
      throw new ConnectError(
        `cannot write the key of account ${account.address}: ${
          messageWithoutPaths(e)
        }`,
        Code.Internal,
      );
    }
    return account.address;
  }
  return {
    async accountCreate(req, ctx) {
      keyAccess.check(ctx.values, "AccountCreate");
      try {
        checkPassword(req.Password);
      } catch (e) {
        throw new ConnectError(messageOf(e), Code.InvalidArgument);
      }
      takeToken();
      const created = queue.then(() => create(req.Password));
      queue = created.catch(() => {});
      return { Address: await created };
    },

    accountBalance(req) {
      const address = req.Address;
      if (address === "") {
        throw new ConnectError("Address is required", Code.InvalidArgument);
      }
      const balance = backend.ledger.state.balance(address);
      if (balance === undefined) {
        throw new ConnectError(
          `account ${address} has no balance`,
          Code.NotFound,
        );
      }
      return { Balance: balance };
    },
  };
}

/** The number of key files in `dir`; Internal when it cannot be read. */
async function countKeys(
  dir: string,
  log: (message: string) => void,
): Promise<number> {
  try {
    return (await listKeys(dir)).length;
  } catch (e) {
    log(`AccountCreate: cannot read the key store ${dir}: ${messageOf(e)}`);
    throw new ConnectError(
      `cannot read the key store: ${messageWithoutPaths(e)}`,
      Code.Internal,
    );
  }
}
