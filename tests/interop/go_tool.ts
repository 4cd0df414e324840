/**
 * Go tools the interop tests build: whether Go is here, and one builder for
 * a command whose versions a `go.mod` beside the tests pins.
 */
import { fileURLToPath } from "node:url";
import { TEST_ROOT } from "../support.ts";
import { decodeUtf8 } from "../../src/util/utf8.ts";

/** How long `go build` may take (a cold module cache downloads). */
const BUILD_TIMEOUT_MS = 300_000;

/** Whether the Go toolchain is on PATH. */
export async function hasGo(): Promise<boolean> {
  try {
    const out = await new Deno.Command("go", {
      args: ["version"],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}

/**
 * A function building `pkg` (a package path, or `.`) with the `go.mod` in
 * `dir` (relative to this folder, e.g. `./h2spec/`) into `.tmp/bin/NAME`, a
 * fixed path because `deno task test` allows running exactly that file. It
 * builds once per process and resolves to the binary's path; it rejects
 * with the last line of Go's output when the build fails.
 */
export function goTool(
  name: string,
  dir: string,
  pkg: string,
): { bin: string; build(): Promise<string> } {
  const bin = `${TEST_ROOT}bin/${name}`;
  const cwd = fileURLToPath(new URL(dir, import.meta.url));
  let built: Promise<string> | undefined;
  const run = async () => {
    const out = await new Deno.Command("go", {
      args: ["build", "-o", bin, pkg],
      cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(BUILD_TIMEOUT_MS),
    }).output();
    if (!out.success) {
      const text = decodeUtf8(out.stdout) + decodeUtf8(out.stderr);
      const last = text.trim().split("\n").at(-1) ?? `exit ${out.code}`;
      throw new Error(`go build ${pkg} in ${dir} failed: ${last}`);
    }
    return bin;
  };
  return { bin, build: () => built ??= run() };
}
