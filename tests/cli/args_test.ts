import { assertEquals, assertThrows } from "../assert.ts";
import {
  oneOf,
  parseDuration,
  parseFlags,
  unknownFlag,
  UsageError,
} from "../../src/cli/args.ts";
import { parseHexPrefix } from "../../src/cli/use_client.ts";

const SPEC = {
  ownerpass: { type: "string", env: "BCN_OWNERPASS" },
} as const;

Deno.test("a flag falls back to its environment variable, the flag wins", () => {
  const before = Deno.env.get("BCN_OWNERPASS");
  Deno.env.set("BCN_OWNERPASS", "from-env");
  try {
    assertEquals(parseFlags([], SPEC).ownerpass, "from-env");
    assertEquals(
      parseFlags(["--ownerpass", "from-flag"], SPEC).ownerpass,
      "from-flag",
    );
    Deno.env.set("BCN_OWNERPASS", "");
    assertEquals(parseFlags([], SPEC).ownerpass, undefined);
  } finally {
    if (before === undefined) Deno.env.delete("BCN_OWNERPASS");
    else Deno.env.set("BCN_OWNERPASS", before);
  }
});

Deno.test({
  name: "without env permission the fallback is skipped, not a crash",
  permissions: { env: false },
  fn() {
    assertEquals(parseFlags([], SPEC).ownerpass, undefined);
    assertEquals(parseFlags(["--ownerpass", "x"], SPEC).ownerpass, "x");
  },
});

Deno.test("durations from 10ms to 1h, in ms, s, m or h", () => {
  assertEquals(parseDuration("period", "10ms"), 10);
  assertEquals(parseDuration("period", "1.5s"), 1500);
  assertEquals(parseDuration("period", "2m"), 120_000);
  assertEquals(parseDuration("period", "1h"), 3_600_000);
  for (const bad of ["9ms", "61m", "2h", "5", "1d", "-1s", ""]) {
    assertThrows(
      () => parseDuration("period", bad),
      UsageError,
      "--period: expected a duration from 10ms to 1h",
    );
  }
});

Deno.test("hex prefixes: 1 to 64 hex characters, lowercased", () => {
  assertEquals(parseHexPrefix("hash", "ABc0"), "abc0");
  assertEquals(parseHexPrefix("hash", "F".repeat(64)), "f".repeat(64));
  for (const bad of ["", "xyz", "0x12", "a".repeat(65), "ab cd"]) {
    assertThrows(
      () => parseHexPrefix("parent", bad),
      UsageError,
      `--parent: expected a prefix of 1 to 64 hex characters, got ${
        JSON.stringify(bad)
      }`,
    );
  }
});

Deno.test("exactly one of a set of flags", () => {
  assertEquals(oneOf({ b: "x", json: true }, ["a", "b"]), "b");
  assertThrows(
    () => oneOf({}, ["a", "b"]),
    UsageError,
    "give one of --a and --b",
  );
  assertThrows(
    () => oneOf({ a: "", c: "1" }, ["a", "b", "c"]),
    UsageError,
    "give only one of --a, --b and --c, not --a and --c",
  );
});

Deno.test("an unknown flag names the nearest known one", () => {
  const spec = {
    json: { type: "boolean" },
    ownerpass: { type: "string" },
  } as const;
  assertThrows(
    () => parseFlags(["--jsn"], spec),
    UsageError,
    "unknown flag --jsn; did you mean --json?",
  );
  assertThrows(
    () => parseFlags(["--ownerpas=x"], spec),
    UsageError,
    "unknown flag --ownerpas; did you mean --ownerpass?",
  );
  assertThrows(
    () => parseFlags(["--hepl"], spec),
    UsageError,
    "unknown flag --hepl; did you mean --help?",
  );
  for (const far of ["--bogus", "-x"]) {
    assertThrows(
      () => parseFlags([far], spec),
      UsageError,
      `unknown flag ${far}`,
    );
    try {
      parseFlags([far], spec);
    } catch (e) {
      assertEquals((e as Error).message, `unknown flag ${far}`);
    }
  }
  assertEquals(
    unknownFlag("--nod", ["node", "json"]),
    "unknown flag --nod; did you mean --node?",
  );
});

Deno.test("an injected environment; a password file given beats it", () => {
  const spec = {
    node: { type: "string", env: "BCN_NODE" },
    ownerpass: {
      type: "string",
      env: "BCN_OWNERPASS",
      file: "ownerpass-file",
    },
    "ownerpass-file": { type: "string" },
  } as const;
  const env = (name: string) =>
    ({ BCN_NODE: "127.0.0.1:9", BCN_OWNERPASS: "from-env" })[name];
  assertEquals(parseFlags([], spec, { env }), {
    node: "127.0.0.1:9",
    ownerpass: "from-env",
  });
  assertEquals(
    parseFlags(["--node", "127.0.0.1:8", "--ownerpass-file", "f"], spec, {
      env,
    }),
    { node: "127.0.0.1:8", "ownerpass-file": "f" },
  );
});
