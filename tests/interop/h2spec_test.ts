/**
 * HTTP/2 conformance of a real `bcn` node, measured by h2spec (the HTTP/2
 * and HPACK conformance suite, built here from source with Go): a bootstrap
 * node serves its one port, h2spec runs all its tests against `/healthz`
 * over cleartext HTTP/2 with prior knowledge, once as is and once in strict
 * mode (`-S`), and every test must pass. The node must still be alive and
 * answer `/healthz` afterwards, over HTTP/2 and HTTP/1.1.
 *
 * A failure lists each failed h2spec test on one line: its h2spec id
 * (`http2/8.1.2.3/1`: section 8.1.2.3, test 1, which `h2spec ID` runs
 * alone), its description, and what h2spec expected and got. Needs the Go
 * toolchain (ignored, saying so, without it) and, to build h2spec, the Go
 * module proxy. `bench/h2spec.ts` runs the same against a running node.
 *
 * @module
 */
import { assert, assertEquals } from "../assert.ts";
import { createH2cClient } from "../../src/http/h2c_client.ts";
import {
  type BcnProcess,
  bootstrapArgs,
  freePort,
  startBcn,
  withTempDir,
} from "../e2e/helpers.ts";
import { goTool, hasGo } from "./go_tool.ts";
import { decodeUtf8 } from "../../src/util/utf8.ts";

/**
 * The h2spec command that is built. Its release (v2.2.1, which reports
 * itself as 2.0.0) and its dependencies are pinned by `h2spec/go.mod`:
 * h2spec has no go.mod of its own, so `go install` would take the newest.
 */
export const H2SPEC_MODULE = "github.com/summerwind/h2spec/cmd/h2spec";

const H2SPEC = goTool("h2spec", "./h2spec/", H2SPEC_MODULE);

/** Where h2spec is built (see {@link goTool}). */
export const H2SPEC_BIN: string = H2SPEC.bin;

/** h2spec's own bound on each test's wait for an answer, in seconds. */
export const H2SPEC_TEST_TIMEOUT_S = 2;

/**
 * When a whole h2spec run is killed: today's run, with about 40 tests
 * waiting out their timeout, takes about 80 s.
 */
export const H2SPEC_RUN_TIMEOUT_MS = 120_000;

/** How many lines of h2spec's output a failure message quotes. */
const OUTPUT_TAIL_LINES = 40;

/** Builds h2spec once per process into {@link H2SPEC_BIN}. */
export const buildH2spec: () => Promise<string> = H2SPEC.build;

/** One failed h2spec test. */
export interface H2specFailure {
  /** h2spec's id of the test, e.g. `http2/8.1.2.3/1`. */
  id: string;
  /** What the test does, e.g. `Sends a HEADERS frame with empty ":path" ...`. */
  description: string;
  /** What h2spec would have accepted (any one of them). */
  expected: string[];
  /** What it got instead. */
  actual?: string;
  /** An error that is not a wrong answer (then no expected and actual). */
  error?: string;
}

/** The counts and failures of one h2spec run, from its JUnit report. */
export interface H2specReport {
  total: number;
  passed: number;
  skipped: number;
  failed: H2specFailure[];
}

const XML_ENTITIES: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
};

function unescapeXml(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (m, e: string) => {
    if (e.startsWith("#x")) {
      return String.fromCodePoint(parseInt(e.slice(2), 16));
    }
    if (e.startsWith("#")) {
      return String.fromCodePoint(parseInt(e.slice(1), 10));
    }
    return XML_ENTITIES[e] ?? m;
  });
}

function attributes(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of s.matchAll(/([\w:-]+)="([^"]*)"/g)) {
    out[m[1]] = unescapeXml(m[2]);
  }
  return out;
}

/**
 * Reads h2spec's JUnit report: a `testsuite` per section (its `package` is
 * h2spec's id of the section), a `testcase` per test in h2spec's order, so
 * a test's position in its suite is its number in the section. A wrong
 * answer is a `failure` ("Expect:" lines, then "Actual:") or, in h2spec
 * 2.x, which misses its own error type there, an `error` whose lines are
 * the expected answers and then, last, the actual one. The contents are
 * written raw, not escaped.
 */
export function parseJunitReport(xml: string): H2specReport {
  const report: H2specReport = { total: 0, passed: 0, skipped: 0, failed: [] };
  const suites = xml.matchAll(
    /<testsuite\b([^>]*)>([\s\S]*?)<\/testsuite>/g,
  );
  for (const [, suiteAttrs, body] of suites) {
    const section = attributes(suiteAttrs).package ?? "?";
    const cases = body.matchAll(
      /<testcase\b([^>]*?)(?:\/>|>([\s\S]*?)<\/testcase>)/g,
    );
    let seq = 0;
    for (const [, caseAttrs, content = ""] of cases) {
      seq++;
      report.total++;
      if (/<skipped\b/.test(content)) {
        report.skipped++;
        continue;
      }
      const failure = content.match(/<failure\b[^>]*>([\s\S]*?)<\/failure>/);
      const error = content.match(/<error\b[^>]*>([\s\S]*?)<\/error>/);
      if (!failure && !error) {
        report.passed++;
        continue;
      }
      const f: H2specFailure = {
        id: `${section}/${seq}`,
        description: attributes(caseAttrs).classname ?? "?",
        expected: [],
      };
      if (failure) {
        const m = failure[1].match(/^Expect:\n([\s\S]*)\nActual:\n([\s\S]*)$/);
        if (m) {
          f.expected = m[1].split("\n");
          f.actual = m[2].trim();
        } else {
          f.error = failure[1].trim();
        }
      } else {
        const lines = error![1].trim().split("\n");
        if (lines.length >= 2) {
          f.expected = lines.slice(0, -1);
          f.actual = lines.at(-1);
        } else {
          f.error = lines[0];
        }
      }
      report.failed.push(f);
    }
  }
  return report;
}

/** One line for a failed test: id, description, expected and actual. */
export function formatFailure(f: H2specFailure): string {
  const what = f.error !== undefined
    ? `error: ${f.error}`
    : `expected ${f.expected.join(" or ")}; actual ${f.actual ?? "?"}`;
  return `${f.id} ${f.description}: ${what}`;
}

/** h2spec's summary line, e.g. `145 tests, 104 passed, 1 skipped, 40 failed`. */
export function summaryLine(output: string): string | undefined {
  return output.match(/\d+ tests, \d+ passed, \d+ skipped, \d+ failed/)?.[0];
}

/** The summary of a report, as h2spec prints it. */
export function reportSummary(r: H2specReport): string {
  return `${r.total} tests, ${r.passed} passed, ${r.skipped} skipped, ` +
    `${r.failed.length} failed`;
}

/** Options of {@link runH2spec}. */
export interface H2specOptions {
  host: string;
  port: number;
  /** The path its requests go to. */
  path: string;
  /** Runs the strict tests too (`-S`). */
  strict: boolean;
  /** Where it writes its JUnit report. */
  reportPath: string;
  /** Its per-test timeout; {@link H2SPEC_TEST_TIMEOUT_S} by default. */
  timeoutS?: number;
  /** When it is killed; {@link H2SPEC_RUN_TIMEOUT_MS} by default. */
  killAfterMs?: number;
}

/** How an h2spec run ended. */
export interface H2specRun {
  code: number;
  /** Whether it was killed for running too long. */
  timedOut: boolean;
  /** After how long it would have been killed. */
  killAfterMs: number;
  /** Its output (stdout and stderr), without colours. */
  output: string;
  /** Its summary line, when it got to print one. */
  summary?: string;
  /** Its JUnit report, when it wrote one. */
  report?: H2specReport;
}

/** Runs h2spec against `host:port` once, bounded in time. */
export async function runH2spec(
  bin: string,
  options: H2specOptions,
): Promise<H2specRun> {
  const {
    timeoutS = H2SPEC_TEST_TIMEOUT_S,
    killAfterMs = H2SPEC_RUN_TIMEOUT_MS,
  } = options;
  const child = new Deno.Command(bin, {
    args: [
      "-h",
      options.host,
      "-p",
      String(options.port),
      "-P",
      options.path,
      "-o",
      String(timeoutS),
      "-j",
      options.reportPath,
      ...(options.strict ? ["-S"] : []),
    ],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // already exited
    }
  }, killAfterMs);
  let out: Deno.CommandOutput;
  try {
    out = await child.output();
  } finally {
    clearTimeout(timer);
  }
  // Colours are off without a terminal; stripped in case one is forced.
  const output = (decode(out.stdout) + decode(out.stderr)).replace(
    // deno-lint-ignore no-control-regex
    /\x1b\[[0-9;]*m/g,
    "",
  );
  let report: H2specReport | undefined;
  try {
    report = parseJunitReport(await Deno.readTextFile(options.reportPath));
  } catch (e) {
    // It writes the report only at the end of a complete run.
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return {
    code: out.code,
    timedOut,
    killAfterMs,
    output,
    summary: summaryLine(output),
    report,
  };
}

/** The last lines of `text`. */
export function tail(text: string, lines = OUTPUT_TAIL_LINES): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/**
 * Why a run is not a clean pass, or `undefined` when it is: every failed
 * test on its own line after the summary.
 */
export function verdict(run: H2specRun, what: string): string | undefined {
  if (run.timedOut) {
    return `${what}: killed after ${run.killAfterMs / 1000} s ` +
      `without finishing; its output's end:\n${tail(run.output)}`;
  }
  if (!run.report) {
    return `${what}: exited with ${run.code} without a report; ` +
      `its output's end:\n${tail(run.output)}`;
  }
  const r = run.report;
  if (r.failed.length > 0) {
    return `${what}: ${run.summary ?? reportSummary(r)}; failed:\n` +
      r.failed.map(formatFailure).join("\n");
  }
  if (run.code !== 0 || r.total === 0) {
    return `${what}: ${reportSummary(r)} but exit code ${run.code}; ` +
      `its output's end:\n${tail(run.output)}`;
  }
  return undefined;
}

const decode = decodeUtf8;

/** GET /healthz over HTTP/1.1 and over HTTP/2; both must answer 200 "ok". */
async function assertHealthy(
  addr: string,
  node: BcnProcess,
  when: string,
): Promise<void> {
  const url = `http://${addr}/healthz`;
  const said = () => {
    const { stdout, stderr } = node.output();
    return `--- node stdout\n${tail(stdout)}\n--- node stderr\n${
      tail(stderr)
    }\n---`;
  };
  let h1: { status: number; body: string };
  let h2: { status: number; body: string };
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    h1 = { status: res.status, body: await res.text() };
    const signal = AbortSignal.timeout(10_000);
    const res2 = await createH2cClient()({
      url,
      method: "GET",
      header: new Headers(),
      signal,
    });
    let body = "";
    for await (const chunk of res2.body) body += decode(chunk);
    h2 = { status: res2.status, body };
  } catch (e) {
    throw new Error(`GET /healthz ${when} failed: ${e}\n${said()}`);
  }
  assertEquals(h1, { status: 200, body: "ok\n" }, `HTTP/1.1 ${when}`);
  assertEquals(h2, { status: 200, body: "ok\n" }, `HTTP/2 ${when}`);
}

/**
 * Starts a bootstrap node, runs h2spec against it, checks that the node
 * survived, stops it, and only then judges h2spec's results.
 */
async function conformance(strict: boolean): Promise<void> {
  const bin = await buildH2spec();
  const what = strict ? "h2spec -S (strict)" : "h2spec";
  await withTempDir(async (dir) => {
    const port = freePort();
    const addr = `127.0.0.1:${port}`;
    const node = await startBcn(bootstrapArgs(addr, { dir }), { cwd: dir });
    let run: H2specRun;
    try {
      await node.waitFor(`<=> gRPC ${addr}\n`);
      await assertHealthy(addr, node, "before h2spec");
      run = await runH2spec(bin, {
        host: "127.0.0.1",
        port,
        path: "/healthz",
        strict,
        reportPath: `${dir}/h2spec.xml`,
      });
      console.log(`${what}: ${run.summary ?? "no summary"}`);
      await assertHealthy(addr, node, `after ${what}`);
      const res = await node.stop();
      assertEquals(res.code, 0, `the node's exit after SIGTERM: ${res.stderr}`);
    } finally {
      await node.stop();
    }
    const why = verdict(run, what);
    assert(why === undefined, why);
  });
}

const GO = await hasGo();
if (!GO) console.log("h2spec tests ignored: no Go toolchain on PATH");

Deno.test({
  name: "h2spec: every HTTP/2 and HPACK conformance test passes",
  ignore: !GO,
  fn: () => conformance(false),
});

Deno.test({
  name: "h2spec -S: the strict conformance tests pass too",
  ignore: !GO,
  fn: () => conformance(true),
});
