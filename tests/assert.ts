/**
 * The few assertions the tests need, on top of `node:assert` (JSR's
 * `@std/assert` is not reachable here; switching later is a one-file change).
 */
import nodeAssert from "node:assert";

/** Asserts that `cond` is truthy. */
export function assert(cond: unknown, msg?: string): asserts cond {
  nodeAssert.ok(cond, msg);
}

/** Asserts deep strict equality. */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  nodeAssert.deepStrictEqual(actual, expected, msg);
}

/** Asserts deep strict inequality. */
export function assertNotEquals<T>(actual: T, expected: T, msg?: string): void {
  nodeAssert.notDeepStrictEqual(actual, expected, msg);
}

type ErrorClass = abstract new (...args: never[]) => Error;

function check(e: unknown, cls?: ErrorClass, includes?: string): Error {
  if (cls && !(e instanceof cls)) {
    throw new nodeAssert.AssertionError({
      message: `expected ${cls.name}, got ${
        e instanceof Error ? `${e.name}: ${e.message}` : String(e)
      }`,
    });
  }
  const err = e as Error;
  if (includes !== undefined && !String(err?.message).includes(includes)) {
    throw new nodeAssert.AssertionError({
      message: `expected the error message to include ${
        JSON.stringify(includes)
      }, got ${JSON.stringify(err?.message)}`,
    });
  }
  return err;
}

/** Asserts that `fn` throws (an instance of `cls`, with `includes` in its message). */
export function assertThrows(
  fn: () => unknown,
  cls?: ErrorClass,
  includes?: string,
): Error {
  try {
    fn();
  } catch (e) {
    return check(e, cls, includes);
  }
  throw new nodeAssert.AssertionError({ message: "expected a throw" });
}

/** Asserts that `fn` rejects (an instance of `cls`, with `includes` in its message). */
export async function assertRejects(
  fn: () => Promise<unknown>,
  cls?: ErrorClass,
  includes?: string,
): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    return check(e, cls, includes);
  }
  throw new nodeAssert.AssertionError({ message: "expected a rejection" });
}
