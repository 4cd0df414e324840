/**
 * The release's smoke check (`contrib/release_smoke.sh`), run here on bcn
 * from source exactly as the release workflow runs it on each compiled
 * binary: `bcn --version`, then a `bcn dev` network, its example transfer
 * confirmed on every node, and Ctrl-C. Also: the script fails with one line
 * when the command is not the version it should be.
 */
import { fileURLToPath } from "node:url";
import { assert, assertEquals } from "../assert.ts";
import { TEST_ROOT } from "../support.ts";
import {
  BCN_PERMISSIONS,
  CONFIG_PATH,
  DENO,
  freePorts,
  MAIN_PATH,
} from "./helpers.ts";

const SCRIPT = fileURLToPath(
  new URL("../../contrib/release_smoke.sh", import.meta.url),
);

/** What the whole smoke check may take. */
const SMOKE_TIMEOUT_MS = 300_000;

const VERSION: string = JSON.parse(
  await Deno.readTextFile(CONFIG_PATH),
).version;

/** Runs the script with `args`; `port` is `bcn dev`'s first port. */
async function smoke(
  args: string[],
  port = 1122,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command("bash", {
    args: [SCRIPT, ...args],
    // bcn dev's temporary directory goes under the tests' root.
    env: {
      TMPDIR: TEST_ROOT,
      BCN_SMOKE_PORT: String(port),
      BCN_AUTHPASS: "",
      BCN_OWNERPASS: "",
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(SMOKE_TIMEOUT_MS),
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return {
    code: out.code,
    stdout: decode(out.stdout),
    stderr: decode(out.stderr),
  };
}

Deno.test("the release smoke check passes on bcn from source", async () => {
  const res = await smoke([
    DENO,
    "run",
    ...BCN_PERMISSIONS,
    "--config",
    CONFIG_PATH,
    MAIN_PATH,
  ], freePorts(2));
  assertEquals(res.code, 0, `${res.stderr}\n${res.stdout}`);
  const steps = res.stdout.trimEnd().split("\n");
  assertEquals(steps.length, 5, res.stdout);
  assert(steps.every((l) => l.startsWith("ok: ")), res.stdout);
  assert(steps[0].includes(VERSION), steps[0]);
  assert(/^ok: sent tx [0-9a-f]{64}$/.test(steps[2]), steps[2]);
  assert(steps[4].startsWith("ok: SIGINT stopped bcn dev (exit 0"), steps[4]);
});

Deno.test("the release smoke check fails with one line on a wrong version or a failing command", async () => {
  const right = await smoke(["--version-only", "echo", `bcn ${VERSION}`]);
  assertEquals(right.code, 0, right.stderr);
  assertEquals(right.stdout, `ok: bcn --version: bcn ${VERSION} --version\n`);

  const wrong = await smoke(["--version-only", "echo", "bcn 0.0.0-other"]);
  assertEquals(wrong.code, 1);
  assertEquals(
    wrong.stderr,
    `release smoke: bcn --version printed 'bcn 0.0.0-other --version', not version ${VERSION}\n`,
  );

  const failing = await smoke(["false"]);
  assertEquals(failing.code, 1);
  assertEquals(failing.stderr, "release smoke: bcn --version exited 1\n");

  const none = await smoke([]);
  assertEquals(none.code, 2);
  assert(none.stderr.startsWith("usage: "), none.stderr);
});
