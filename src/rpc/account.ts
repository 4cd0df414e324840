/**
 * The Account service: new accounts in the node's key store, and confirmed
 * balances.
 *
 * @module
 */
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { Account } from "../chain/account.ts";
import type { Ledger } from "../node/ledger.ts";
import {
  KeyStoreError,
  MIN_PASSWORD_BYTES,
  writeKey,
} from "../store/key_store.ts";
import type { Account as AccountService } from "./gen/account_pb.ts";

/** What the Account service works on. */
export interface AccountBackend {
  /** The node's state. */
  readonly ledger: Ledger;
  /** The directory of the node's key files. */
  readonly keyStoreDir: string;
}

const utf8 = new TextEncoder();

/**
 * The Account service on a ledger and a key store:
 * - AccountCreate makes a random account, writes its key encrypted with
 *   `Password` (InvalidArgument when shorter than 5 bytes) and returns its
 *   address;
 * - AccountBalance returns the confirmed balance of `Address` (NotFound for
 *   an account that has never held a balance, InvalidArgument when empty).
 */
export function accountMethods(
  backend: AccountBackend,
): ServiceImpl<typeof AccountService> {
  return {
    async accountCreate(req) {
      if (utf8.encode(req.Password).length < MIN_PASSWORD_BYTES) {
        throw new ConnectError(
          `password must be at least ${MIN_PASSWORD_BYTES} bytes`,
          Code.InvalidArgument,
        );
      }
      const account = Account.create();
      try {
        await writeKey(backend.keyStoreDir, account, req.Password);
      } catch (e) {
        if (e instanceof KeyStoreError) {
          throw new ConnectError(e.message, Code.InvalidArgument);
        }
        throw new ConnectError(
          `cannot write the key of account ${account.address}: ${
            (e as Error).message
          }`,
          Code.Internal,
        );
      }
      return { Address: account.address };
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
