/**
 * Shared test scaffolding: temporary directories and tests with the leak
 * sanitizers on.
 */

import { fileURLToPath } from "node:url";

/**
 * The one directory the tests write under: `.tmp/` in the repository
 * (git-ignored). `deno task test` creates it and grants write access to it
 * alone, so a test that writes anywhere else fails with a permission error.
 */
export const TEST_ROOT: string = fileURLToPath(
  new URL("../.tmp/", import.meta.url),
);

/**
 * A fresh empty directory under {@link TEST_ROOT}; the caller removes it
 * (prefer {@link withTempDir}, which does).
 */
export async function makeTempDir(prefix = "bcn_test_"): Promise<string> {
  await Deno.mkdir(TEST_ROOT, { recursive: true });
  return await Deno.makeTempDir({ dir: TEST_ROOT, prefix });
}

/**
 * Runs `fn` with a fresh temporary directory and removes it afterwards,
 * whatever happens.
 */
export async function withTempDir<T>(
  fn: (dir: string) => Promise<T>,
  prefix = "bcn_test_",
): Promise<T> {
  const dir = await makeTempDir(prefix);
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Whether `path` exists (without following a final symlink). */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/**
 * `Deno.test` with the resource and op sanitizers on (they are off by
 * default in Deno 2.9), so a leaked file handle or timer fails the test.
 */
export function sanitizedTest(
  name: string,
  ...rest:
    | [() => Promise<void>]
    | [Omit<Deno.TestDefinition, "name" | "fn">, () => Promise<void>]
): void {
  const [opts, fn] = rest.length === 1 ? [{}, rest[0]] : rest;
  Deno.test({
    name,
    sanitizeResources: true,
    sanitizeOps: true,
    ...opts,
    fn,
  });
}

/**
 * Polls `cond` every 10 ms until it holds or `ms` pass (at most 1,000
 * polls); returns its last value.
 */
export async function waitFor(
  cond: () => boolean,
  ms: number,
): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (let i = 0; i < 1000 && Date.now() < deadline; i++) {
    if (cond()) return true;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return cond();
}

/**
 * The directory of the reference node's golden files (FORMAT.md:
 * `shared/vectors/`): `$BCN_VECTORS` when that variable is readable and set,
 * else `../shared/vectors/` beside the repository.
 */
export function vectorsDir(): string {
  const env = Deno.permissions.querySync({
    name: "env",
    variable: "BCN_VECTORS",
  });
  if (env.state === "granted") {
    const v = Deno.env.get("BCN_VECTORS");
    if (v) return v;
  }
  return new URL("../../shared/vectors/", import.meta.url).pathname;
}

/**
 * Whether {@link vectorsDir} is a directory; when it is not, logs that the
 * tests named by `what` are skipped, so a skip is never silent.
 */
export function vectorsPresent(what: string): boolean {
  const dir = vectorsDir();
  try {
    if (Deno.statSync(dir).isDirectory) return true;
  } catch {
    // absent
  }
  console.log(`vectors: ${dir} is absent; skipping ${what}`);
  return false;
}
