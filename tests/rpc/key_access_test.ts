/**
 * TxSign and AccountCreate are served to local clients only unless the
 * operator widens it; everything else stays open. The remote client is a
 * socket bound to 127.0.0.2 (another loopback address, not 127.0.0.1).
 */
import { assert, assertEquals } from "../assert.ts";
import { Code } from "@connectrpc/connect";
import { timeNow } from "../../src/chain/time.ts";
import { decodeSigTx, encodeSigTx, txHash } from "../../src/chain/tx.ts";
import { accountMethods } from "../../src/rpc/account_service.ts";
import { AddressList } from "../../src/http/address_list.ts";
import { blockSyncMethods } from "../../src/rpc/block_service.ts";
import { Account as AccountService } from "../../src/rpc/gen/account_pb.ts";
import { Block } from "../../src/rpc/gen/block_pb.ts";
import { Tx } from "../../src/rpc/gen/tx_pb.ts";
import { CLIENT_ADDRESS } from "../../src/rpc/call_context.ts";
import { KeyAccess } from "../../src/rpc/key_access.ts";
import { startServer } from "../../src/rpc/server.ts";
import { txMethods } from "../../src/rpc/tx_service.ts";
import { listKeys, writeKey } from "../../src/store/key_store.ts";
import { makeChain, type TestChain } from "../fixtures.ts";
import {
  assertCode,
  canBind,
  clientsFrom,
  collect,
  type OpenNode,
  startNode,
} from "./harness.ts";

const PASSWORD = "secret password";
const REMOTE = "127.0.0.2";

const ignore = !canBind(REMOTE);

/** A node serving Tx, Account and block sync, with the owner's key. */
function startKeyNode(
  chain: TestChain,
  keyAccess?: KeyAccess,
): Promise<OpenNode> {
  return startNode(chain, {
    setup: (node) => writeKey(node.keyStoreDir, chain.owner, PASSWORD).then(),
    routes: (r, { ledger, store, keyStoreDir }) => {
      r.service(Tx, txMethods({ ledger, keyStoreDir, keyAccess }));
      r.service(
        AccountService,
        accountMethods({ ledger, keyStoreDir, keyAccess }),
      );
      r.service(Block, blockSyncMethods({ store }));
    },
  });
}

Deno.test({
  name: "the server gives handlers the client address, HTTP/1.1 and HTTP/2",
  ignore,
  fn: async () => {
    const server = await startServer({
      hostname: "127.0.0.1",
      port: 0,
      routes: (r) =>
        r.service(AccountService, {
          accountCreate: (_req, ctx) => ({
            Address: String(ctx.values.get(CLIENT_ADDRESS)),
          }),
        }),
    });
    try {
      for (const protocol of ["connect", "grpc"] as const) {
        for (const from of ["127.0.0.1", REMOTE]) {
          const bound = clientsFrom(server.addr, from, protocol);
          try {
            // Twice: a reused connection reports the same address.
            for (let i = 0; i < 2; i++) {
              const res = await bound.clients.account.accountCreate({});
              assertEquals(res.Address, from, `${protocol} from ${from}`);
            }
          } finally {
            bound.close();
          }
        }
      }
    } finally {
      await server.close();
    }
  },
});

Deno.test({
  name:
    "default: a client from 127.0.0.2 is refused TxSign and AccountCreate, and may sync, search and send",
  ignore,
  fn: async () => {
    const chain = makeChain(2, 2);
    const node = await startKeyNode(chain);
    const addr = node.addr;
    const owner = chain.owner.address;
    const to = chain.others[0].address;
    try {
      for (const protocol of ["connect", "grpc"] as const) {
        const remote = clientsFrom(addr, REMOTE, protocol);
        try {
          await assertCode(
            () =>
              remote.clients.tx.txSign({
                From: owner,
                To: to,
                Value: 1n,
                Password: PASSWORD,
              }),
            Code.PermissionDenied,
            "TxSign uses the node's key store and is served only to 127.0.0.1, ::1, not to 127.0.0.2: call it from the node's machine, or start the node with --allow-keys-from 127.0.0.2",
          );
          await assertCode(
            () => remote.clients.account.accountCreate({ Password: PASSWORD }),
            Code.PermissionDenied,
            "AccountCreate uses the node's key store and is served only to 127.0.0.1, ::1, not to 127.0.0.2",
          );
        } finally {
          remote.close();
        }
      }
      // Nothing was written.
      assertEquals(await listKeys(node.keyStoreDir), [owner]);

      const remote = clientsFrom(addr, REMOTE, "connect");
      try {
        const { block, tx, account } = remote.clients;
        // Sync: the genesis and the blocks.
        const genesis = await block.genesisSync({});
        assert(genesis.Genesis.length > 0);
        const blocks = await collect(block.blockSync({ Number: 1n }));
        assertEquals(blocks.length, 2);
        // Search.
        const found = await collect(tx.txSearch({ From: owner }));
        assertEquals(found.length, 4);
        assertEquals(
          (await account.accountBalance({ Address: to })).Balance > 0n,
          true,
        );
        // Send a transaction signed elsewhere (here, by the test).
        const signed = chain.owner.signTx({
          from: owner,
          to,
          value: 5n,
          nonce: 5n,
          time: timeNow(),
        });
        const sent = await tx.txSend({
          Tx: new TextEncoder().encode(encodeSigTx(signed)),
        });
        assertEquals(sent.Hash, txHash(signed));
        assertEquals(node.ledger.state.nonce(owner, true), 5n);
      } finally {
        remote.close();
      }

      // The node's own machine is served as before.
      const local = clientsFrom(addr, "127.0.0.1", "connect");
      try {
        const res = await local.clients.tx.txSign({
          From: owner,
          To: to,
          Value: 1n,
          Password: PASSWORD,
        });
        assertEquals(decodeSigTx(res.Tx).nonce, 6n);
        const created = await local.clients.account.accountCreate({
          Password: PASSWORD,
        });
        assertEquals(
          await listKeys(node.keyStoreDir),
          [owner, created.Address].sort(),
        );
      } finally {
        local.close();
      }
    } finally {
      await node.close();
    }
  },
});

Deno.test({
  name: "--allow-keys-from: a client from an allowed address is served",
  ignore,
  fn: async () => {
    for (const allowed of ["127.0.0.2", "10.0.0.0/8,127.0.0.0/30"]) {
      const chain = makeChain(1, 1);
      const node = await startKeyNode(
        chain,
        new KeyAccess(AddressList.parse(allowed)),
      );
      const addr = node.addr;
      try {
        for (const protocol of ["connect", "grpc"] as const) {
          const remote = clientsFrom(addr, REMOTE, protocol);
          try {
            const res = await remote.clients.tx.txSign({
              From: chain.owner.address,
              To: chain.others[0].address,
              Value: 1n,
              Password: PASSWORD,
            });
            assertEquals(decodeSigTx(res.Tx).from, chain.owner.address);
            const created = await remote.clients.account.accountCreate({
              Password: PASSWORD,
            });
            assert(
              (await listKeys(node.keyStoreDir)).includes(created.Address),
            );
          } finally {
            remote.close();
          }
        }
      } finally {
        await node.close();
      }
    }
  },
});

Deno.test("KeyAccess: local exactly, the operator's list, and the hint", () => {
  const local = new KeyAccess();
  assert(local.allows("127.0.0.1"));
  assert(local.allows("::1"));
  assert(local.allows("::ffff:127.0.0.1"));
  assert(!local.allows("127.0.0.2"));
  assert(!local.allows("::ffff:127.0.0.2"));
  assert(!local.allows(undefined));
  assert(!local.widened);
  assert(!new KeyAccess(AddressList.parse("127.0.0.1,::1")).widened);

  const wide = new KeyAccess(AddressList.parse("10.0.0.0/8,192.168.1.5"));
  assert(wide.widened);
  assert(wide.allows("10.3.4.5"));
  assert(wide.allows("127.0.0.1"));
  assert(!wide.allows("192.168.1.6"));
});
