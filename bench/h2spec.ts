/**
 * h2spec, the HTTP/2 conformance suite, against a running node, for
 * developers: the run of `tests/interop/h2spec_test.ts` without starting a
 * node. Builds h2spec with Go (once, into `.tmp/bin/h2spec`), runs it
 * against HOST:PORT over cleartext HTTP/2, and prints its summary and each
 * failed test on one line (its h2spec id, which `.tmp/bin/h2spec ID` runs
 * alone). Exits with 1 when a test failed.
 *
 *   deno task h2spec 127.0.0.1:1122 [--strict] [--path /healthz] [--timeout 2]
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  buildH2spec,
  formatFailure,
  reportSummary,
  runH2spec,
  tail,
} from "../tests/interop/h2spec_test.ts";
import { hasGo } from "../tests/interop/go_tool.ts";
import { makeTempDir } from "../tests/support.ts";

const usage =
  "usage: h2spec.ts HOST:PORT [--strict] [--path /healthz] [--timeout 2]";

let parsed;
try {
  parsed = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      strict: { type: "boolean", default: false },
      path: { type: "string", default: "/healthz" },
      timeout: { type: "string", default: "2" },
    },
  });
} catch (e) {
  console.error(`${e instanceof Error ? e.message : e}\n${usage}`);
  Deno.exit(2);
}
const { values, positionals } = parsed;
const target = positionals[0]?.match(/^\[?([^\]]+?)\]?:(\d+)$/);
const timeoutS = Number(values.timeout);
if (
  positionals.length !== 1 || !target || !Number.isInteger(timeoutS) ||
  timeoutS < 1
) {
  console.error(usage);
  Deno.exit(2);
}
if (!await hasGo()) {
  console.error("h2spec: the Go toolchain is not on PATH");
  Deno.exit(2);
}

const bin = await buildH2spec();
// Its report goes under the tests' root, the only place the task may write.
const dir = await makeTempDir("bcn_h2spec_");
let failed = true;
try {
  const run = await runH2spec(bin, {
    host: target[1],
    port: Number(target[2]),
    path: values.path,
    strict: values.strict,
    reportPath: `${dir}/h2spec.xml`,
    timeoutS,
  });
  if (run.timedOut || !run.report) {
    console.log(
      `h2spec ${
        run.timedOut
          ? "was killed, running too long"
          : `exited with ${run.code}`
      } without a report; its output's end:\n${tail(run.output)}`,
    );
  } else {
    console.log(run.summary ?? reportSummary(run.report));
    for (const f of run.report.failed) console.log(formatFailure(f));
    failed = run.report.failed.length > 0 || run.code !== 0;
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
if (failed) Deno.exit(1);
