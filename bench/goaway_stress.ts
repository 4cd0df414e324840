/**
 * Stress of issue 8: repeats the GOAWAY scenario of
 * `tests/interop/goaway_scenario.ts` with real processes (a grpc-go server,
 * a `bcn` node joined to it over gRPC, a graceful stop of the server after a
 * random idle time) and prints how often the bcn node died.
 *
 *   deno task stress:goaway [runs=20] [maxIdleSeconds=30] [busy]
 *
 * With `busy`, each run is instead a client process with four peer
 * registries calling the server (PeerDiscover and BlockSync) without pause
 * when it stops, `goaway_victim.ts` in busy mode: the GOAWAY meets calls in
 * flight. A run counts as crashed when the client dies, or hangs for 30 s
 * after the stop.
 *
 * Needs the Go toolchain. Prints one line per run and `crashes: C of N`.
 */
import {
  buildGo,
  hasGo,
  runGoawayScenario,
  runVictimRound,
  writeChain,
} from "../tests/interop/goaway_scenario.ts";
import { makeTempDir } from "../tests/support.ts";

const runs = Number(Deno.args[0] ?? 20);
const maxIdleMs = Number(Deno.args[1] ?? 30) * 1000;
const busy = Deno.args[2] === "busy";
if (
  !Number.isInteger(runs) || runs < 1 || !(maxIdleMs >= 0) ||
  (Deno.args[2] !== undefined && !busy)
) {
  console.error("usage: goaway_stress.ts [runs] [maxIdleSeconds] [busy]");
  Deno.exit(2);
}
if (!await hasGo()) {
  console.error("goaway_stress: the Go toolchain is not on PATH");
  Deno.exit(2);
}
// Under the tests' root: the bcn children may write only there.
const root = await makeTempDir("bcn_goaway_");
try {
  const bin = await buildGo();
  let crashes = 0;
  for (let i = 1; i <= runs; i++) {
    const idleMs = Math.floor(Math.random() * maxIdleMs);
    const dir = `${root}/run${i}`;
    let r;
    if (busy) {
      await writeChain(`${dir}/store`, 3);
      r = await runVictimRound({
        bin,
        storeDir: `${dir}/store`,
        sessions: 4,
        busy: true,
        idleMs,
      });
    } else {
      r = await runGoawayScenario({ bin, dir, idleMs });
    }
    if (r.crashed) crashes++;
    const why = r.crashed
      ? ` CRASH exit ${r.code} ${
        r.stderr.split("\n").filter((l) =>
          /assert|panic|fault|uncaught/i.test(l)
        )
          .join(" | ")
      }`
      : "";
    console.log(
      `run ${i}: idle ${(idleMs / 1000).toFixed(1)} s: ${
        r.crashed ? "crashed" : "survived"
      }${why}`,
    );
    await Deno.remove(dir, { recursive: true });
  }
  console.log(`crashes: ${crashes} of ${runs}`);
} finally {
  await Deno.remove(root, { recursive: true });
}
