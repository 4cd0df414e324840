/**
 * End-to-end tests of the CLI's everyday habits with real `bcn` processes:
 * a regular node started before its seed waits for it, peers learn a node's
 * `--advertise` address, and client commands take `BCN_NODE`, password
 * files, and get errors without the node's paths.
 */
import { join } from "node:path";
import { assert, assertEquals } from "../assert.ts";
import {
  decodeStatus,
  type NodeStatus,
} from "../../src/node/observe/status.ts";
import { canBind } from "../rpc/harness.ts";
import {
  type BcnProcess,
  bootstrapArgs,
  freePort,
  nodeStartArgs,
  poll,
  runBcn,
  startBcn,
  withTempDir,
} from "./helpers.ts";

/** A node's `GET /status`, or `undefined` while it has none. */
async function status(addr: string): Promise<NodeStatus | undefined> {
  try {
    const res = await fetch(`http://${addr}/status`);
    const text = await res.text();
    return res.status === 200 ? decodeStatus(text) : undefined;
  } catch {
    return undefined;
  }
}

const regularArgs = (node: string, seed: string, dir: string): string[] => [
  ...nodeStartArgs(node, dir, seed),
  "--period",
  "500ms",
];

Deno.test("a regular node started before its seed waits for it, then syncs; clients use BCN_NODE and password files", async () => {
  await withTempDir(async (tmp) => {
    const seed = `127.0.0.1:${freePort()}`;
    const regAddr = `127.0.0.1:${freePort()}`;
    const reg = await startBcn(
      regularArgs(regAddr, seed, join(tmp, "reg")),
      { cwd: tmp },
    );
    let boot: BcnProcess | undefined;
    try {
      await poll("a retry line", () =>
        reg.output().stderr.includes(
          `seed ${seed} unreachable (connection refused); retrying in `,
        ), { describe: () => reg.output().stderr });
      boot = await startBcn(
        [
          ...bootstrapArgs(seed, { dir: join(tmp, "boot") }),
          "--period",
          "500ms",
        ],
        { cwd: tmp },
      );
      await boot.waitFor(`<=> gRPC ${seed}\n`);
      // The next try (at most 30 s after the last) finds it.
      await reg.waitFor(`<=> gRPC ${regAddr}\n`, 45_000);
      const [a, b] = await Promise.all([status(seed), status(regAddr)]);
      assertEquals(b?.genesis, a?.genesis);
      assert(a !== undefined);

      // A client command: --node from BCN_NODE, the password from a file.
      await Deno.writeTextFile(join(tmp, "owner.pass"), "secret password\n");
      const created = await runBcn(
        ["account", "create", "--ownerpass-file", join(tmp, "owner.pass")],
        { cwd: tmp, env: { BCN_NODE: seed } },
      );
      assertEquals(created.code, 0, created.stderr);
      const address = created.stdout.trim().replace(/^acc /, "");
      assert(/^[0-9a-f]{64}$/.test(address), created.stdout);
      // A wrong password: what went wrong, not where the node keeps keys.
      const signed = await runBcn([
        "tx",
        "sign",
        "--node",
        seed,
        "--from",
        address,
        "--to",
        address,
        "--value",
        "1",
        "--ownerpass",
        "wrong password",
      ], { cwd: tmp });
      assertEquals(signed.code, 1, signed.stderr);
      assertEquals(
        signed.stderr,
        `bcn: node ${seed}: permission denied: cannot decrypt the key file of account ${address}: wrong password or corrupted file\n`,
      );
      assert(!signed.stderr.includes(tmp), signed.stderr);
    } finally {
      const regEnd = await reg.stop();
      assertEquals(regEnd.code, 0, regEnd.stderr);
      const bootEnd = await boot?.stop();
      assertEquals(bootEnd?.code ?? 0, 0, bootEnd?.stderr);
    }
  });
});

Deno.test("a regular node waiting for its seed stops at once on SIGINT", async () => {
  await withTempDir(async (tmp) => {
    const seed = `127.0.0.1:${freePort()}`;
    const reg = await startBcn(
      regularArgs(`127.0.0.1:${freePort()}`, seed, join(tmp, "reg")),
      { cwd: tmp },
    );
    try {
      await poll(
        "a retry line",
        () => reg.output().stderr.includes(`seed ${seed} unreachable`),
        {
          describe: () => reg.output().stderr,
        },
      );
    } finally {
      const res = await reg.stop("SIGINT");
      assertEquals(res.code, 0, res.stderr);
      assert(!res.stderr.includes("bcn: "), res.stderr);
    }
  });
});

// The nodes listen on 0.0.0.0 (the children's permission); the test
// process probes the loopback addresses they advertise.
const HOSTS = ["0.0.0.0", "127.0.0.2", "127.0.0.3"];

Deno.test({
  name: "peers learn a node's --advertise address, not the one it listens on",
  // Linux has all of 127.0.0.0/8 on loopback; macOS only 127.0.0.1.
  ignore: !HOSTS.slice(1).every(canBind),
  fn: async () => {
    await withTempDir(async (tmp) => {
      const net = `${HOSTS.join(",")},127.0.0.1,localhost`;
      const pa = freePort();
      const pb = freePort();
      const boot = await startBcn([
        ...bootstrapArgs(`0.0.0.0:${pa}`, { dir: join(tmp, "boot") }),
        "--advertise",
        `127.0.0.2:${pa}`,
        "--period",
        "300ms",
      ], { cwd: tmp, net });
      let reg: BcnProcess | undefined;
      try {
        await boot.waitFor("<=> gRPC");
        reg = await startBcn([
          // Its seed by the address the seed advertises: a node known
          // under two names would be listed as a peer of its own.
          ...regularArgs(`0.0.0.0:${pb}`, `127.0.0.2:${pa}`, join(tmp, "reg")),
          "--advertise",
          `127.0.0.3:${pb}`,
        ], { cwd: tmp, net });
        // The bootstrap node records its caller under the name it gives,
        // and the caller learns the bootstrap's from its answer.
        const peers = await poll("both advertised addresses", async () => {
          const [a, b] = await Promise.all([
            status(`127.0.0.1:${pa}`),
            status(`127.0.0.1:${pb}`),
          ]);
          return a?.peers.includes(`127.0.0.3:${pb}`) &&
              b?.peers.includes(`127.0.0.2:${pa}`)
            ? [a.peers, b.peers]
            : undefined;
        }, { describe: () => reg?.output().stderr ?? "" });
        assertEquals(peers, [[`127.0.0.3:${pb}`], [`127.0.0.2:${pa}`]]);
      } finally {
        const regEnd = await reg?.stop();
        assertEquals(regEnd?.code ?? 0, 0, regEnd?.stderr);
        const bootEnd = await boot.stop();
        assertEquals(bootEnd.code, 0, bootEnd.stderr);
      }
    });
  },
});

Deno.test("a node listening on every address must be told what to advertise", async () => {
  await withTempDir(async (tmp) => {
    const res = await runBcn(
      bootstrapArgs(`0.0.0.0:${freePort()}`, { dir: tmp }),
      { cwd: tmp },
    );
    assertEquals(res.code, 1, res.stderr);
    assert(
      res.stderr.startsWith("bcn: --node 0.0.0.0:") &&
        res.stderr.includes("give --advertise HOST:PORT"),
      res.stderr,
    );
    assertEquals(res.stderr.trimEnd().split("\n").length, 1, res.stderr);
  });
});
