/**
 * How fast can a client guess an owner's password through TxSign? Starts a
 * bootstrap node on a free loopback port (in a temporary directory), fires
 * wrong-password TxSign calls for the owner's account from `concurrency`
 * connections for `seconds`, and prints the wrong passwords the node tried per
 * second beside the rate at which it answered calls at all, then how long the
 * right password had to wait.
 *
 *   deno run -A bench/password_guess.ts [seconds] [concurrency]
 *
 * Before the throttle, every call was a guess (329 guesses/s were measured);
 * with it, only the first few are, then one per wait (up to 10 s).
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { Node } from "../src/node/node.ts";
import { PeerRegistry } from "../src/rpc/registry.ts";

const seconds = Number(Deno.args[0] ?? 5);
const concurrency = Number(Deno.args[1] ?? 8);
const PASSWORD = "owner password";

/** Calls `call` from `concurrency` workers for `seconds`; counts codes. */
async function hammer(
  call: (i: number) => Promise<unknown>,
): Promise<{ counts: Map<string, number>; elapsed: number }> {
  const counts = new Map<string, number>();
  const start = performance.now();
  const end = start + seconds * 1000;
  let n = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        let code = "OK";
        try {
          await call(n++);
        } catch (e) {
          code = e instanceof ConnectError ? Code[e.code] : String(e);
        }
        counts.set(code, (counts.get(code) ?? 0) + 1);
      }
    }),
  );
  return { counts, elapsed: (performance.now() - start) / 1000 };
}

const dir = await Deno.makeTempDir({ prefix: "bcn_bench_guess_" });
let owner = "";
const logs: string[] = [];
const node = new Node({
  node: "127.0.0.1:0",
  bootstrap: true,
  keyStoreDir: `${dir}/keys`,
  blockStoreDir: `${dir}/blocks`,
  chain: "bench",
  authPass: "authority password",
  ownerPass: PASSWORD,
  balance: 1000n,
  periodMs: 60_000,
}, {
  out: (text) => owner = /^owner +([0-9a-f]{64})$/m.exec(text)?.[1] ?? owner,
  log: (message) => logs.push(message),
});
const peers = new PeerRegistry({ protocol: "connect" });
try {
  await node.start();
  const { tx } = peers.clients(node.addr);
  const sign = (Password: string, From = owner) =>
    tx.txSign({ From, To: owner, Value: 1n, Password });

  // The bound beside the figure: how fast this node answers TxSign at all
  // on this machine now (an account without a key: no password is tried).
  const stranger = "0".repeat(64);
  const base = await hammer(() => sign("whatever", stranger));
  const answered = [...base.counts.values()].reduce((a, b) => a + b, 0);

  const run = await hammer((i) => sign(`wrong guess ${i}`));
  const total = [...run.counts.values()].reduce((a, b) => a + b, 0);
  const tried = run.counts.get("PermissionDenied") ?? 0;
  const throttled = run.counts.get("ResourceExhausted") ?? 0;

  // The right password, as its owner would retry it.
  const waitStart = performance.now();
  let signed = false;
  for (let attempt = 0; attempt < 5 && !signed; attempt++) {
    try {
      await sign(PASSWORD);
      signed = true;
    } catch (e) {
      const m = /try again in ([\d.]+)s/.exec((e as Error).message);
      if (!m) throw e;
      await new Promise((r) => setTimeout(r, Number(m[1]) * 1000));
    }
  }
  const waited = (performance.now() - waitStart) / 1000;

  const rate = (k: number, s: number) => (k / s).toFixed(1);
  console.log(
    `node answers TxSign (no key, nothing tried): ${answered} calls in ${
      base.elapsed.toFixed(1)
    }s = ${rate(answered, base.elapsed)} calls/s`,
  );
  console.log(
    `wrong-password TxSign, ${concurrency} connections, ${
      run.elapsed.toFixed(1)
    }s: ${total} calls, ${tried} passwords tried = ${
      rate(tried, run.elapsed)
    } guesses/s, ${throttled} refused by the throttle, other: ${
      JSON.stringify(
        Object.fromEntries(
          [...run.counts].filter(([c]) =>
            c !== "PermissionDenied" && c !== "ResourceExhausted"
          ),
        ),
      )
    }`,
  );
  console.log(
    `right password: ${signed ? "signed" : "NOT signed"} after ${
      waited.toFixed(2)
    }s; warning lines logged: ${
      logs.filter((l) => l.includes("wrong password")).length
    }`,
  );
} finally {
  peers.close();
  await node.stop();
  await Deno.remove(dir, { recursive: true });
}
