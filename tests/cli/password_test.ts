import { assertEquals, assertRejects } from "../assert.ts";
import { UsageError } from "../../src/cli/args.ts";
import {
  MAX_PASSWORD_FILE_LINE,
  promptSecret,
  readPasswordFile,
  readPasswordFiles,
  readSecretLine,
  requirePassword,
  type SecretTerminal,
} from "../../src/cli/password.ts";
import { messageOf } from "../../src/util/errors.ts";
import { withTempDir } from "../support.ts";

const enc = new TextEncoder();

/** A reader giving `chunks` one at a time, then the end of input. */
function reader(...chunks: string[]): () => Promise<Uint8Array | null> {
  const queue = chunks.map((c) => enc.encode(c));
  return () => Promise.resolve(queue.shift() ?? null);
}

Deno.test("a password file: its first line, newline stripped", async () => {
  await withTempDir(async (dir) => {
    const cases: [string, string][] = [
      ["secret password\n", "secret password"],
      ["secret\r\nsecond line\n", "secret"],
      ["no newline", "no newline"],
      [" spaces kept \n", " spaces kept "],
      ["pässwörd\n", "pässwörd"],
    ];
    for (const [content, password] of cases) {
      await Deno.writeTextFile(`${dir}/pass`, content);
      assertEquals(
        await readPasswordFile("ownerpass-file", `${dir}/pass`),
        password,
      );
    }
  });
});

Deno.test("a password file missing, empty or too long is a usage error", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/pass`;
    await assertRejects(
      () => readPasswordFile("authpass-file", path),
      UsageError,
      `--authpass-file: cannot read ${path}: no such file`,
    );
    await assertRejects(
      () => readPasswordFile("authpass-file", dir),
      UsageError,
      `--authpass-file: cannot read ${dir}: `,
    );
    await Deno.writeTextFile(path, "");
    await assertRejects(
      () => readPasswordFile("authpass-file", path),
      UsageError,
      `--authpass-file: ${path} is empty`,
    );
    await Deno.writeTextFile(path, "\nsecret\n");
    await assertRejects(
      () => readPasswordFile("authpass-file", path),
      UsageError,
      `--authpass-file: the first line of ${path} is empty`,
    );
    // Read up to the bound only: a file of any size costs 4 KiB.
    await Deno.writeTextFile(path, "a".repeat(MAX_PASSWORD_FILE_LINE + 1));
    await assertRejects(
      () => readPasswordFile("authpass-file", path),
      UsageError,
      `--authpass-file: the first line of ${path} is longer than 4096 bytes`,
    );
    await Deno.writeTextFile(path, "a".repeat(MAX_PASSWORD_FILE_LINE) + "\n");
    assertEquals(
      (await readPasswordFile("authpass-file", path)).length,
      MAX_PASSWORD_FILE_LINE,
    );
  });
});

Deno.test("password files fill their flags; a flag and its file is an error", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/owner`, "from file\n");
    const spec = {
      ownerpass: { type: "string", file: "ownerpass-file" },
      "ownerpass-file": { type: "string" },
      json: { type: "boolean" },
    } as const;
    const flags: Record<string, string | boolean> = {
      "ownerpass-file": `${dir}/owner`,
    };
    await readPasswordFiles(flags, spec);
    assertEquals(flags.ownerpass, "from file");
    await assertRejects(
      () =>
        readPasswordFiles(
          { ownerpass: "x", "ownerpass-file": `${dir}/owner` },
          spec,
        ),
      UsageError,
      "give only one of --ownerpass and --ownerpass-file",
    );
    await assertRejects(
      () => readPasswordFiles({ "ownerpass-file": "" }, spec),
      UsageError,
      "--ownerpass-file: empty path",
    );
    const none = {};
    await readPasswordFiles(none, spec);
    assertEquals(none, {});
  });
});

Deno.test("a typed password: Enter ends it, Backspace and Ctrl-U edit it", async () => {
  assertEquals(await readSecretLine(reader("secret\r")), "secret");
  assertEquals(await readSecretLine(reader("sec", "ret\n", "more")), "secret");
  assertEquals(await readSecretLine(reader("secrex\x7ft\r")), "secret");
  assertEquals(await readSecretLine(reader("pä\x7fa\r")), "pa");
  assertEquals(await readSecretLine(reader("wrong\x15right\r")), "right");
  assertEquals(await readSecretLine(reader("\r")), "");
  // End of input or Ctrl-D on an empty line: nothing typed.
  assertEquals(await readSecretLine(reader()), undefined);
  assertEquals(await readSecretLine(reader("\x04")), undefined);
  assertEquals(await readSecretLine(reader("abc")), "abc");
  await assertRejects(
    () => readSecretLine(reader("sec\x03")),
    UsageError,
    "password prompt interrupted",
  );
  // Bounded: a stream of keys keeps 4096 bytes.
  const long = await readSecretLine(reader("a".repeat(10_000) + "\r"));
  assertEquals(long?.length, MAX_PASSWORD_FILE_LINE);
});

Deno.test("a required password: the flag's value, else the prompt, else an error", async () => {
  const asked: string[] = [];
  const prompt = (label: string) => {
    asked.push(label);
    return Promise.resolve<string | undefined>("typed");
  };
  assertEquals(
    await requirePassword({ authpass: "given" }, "authpass", {
      label: "authority password",
      prompt,
    }),
    "given",
  );
  assertEquals(asked, []);
  const flags: Record<string, string> = {};
  assertEquals(
    await requirePassword(flags, "authpass", {
      label: "authority password",
      prompt,
    }),
    "typed",
  );
  assertEquals(asked, ["authority password"]);
  assertEquals(flags.authpass, "typed");
  // No terminal (or nothing typed): the flag is named, with why.
  for (const p of [undefined, () => Promise.resolve(undefined)]) {
    await assertRejects(
      () =>
        requirePassword({}, "authpass", {
          label: "authority password",
          prompt: p,
          why: "needed here",
        }),
      UsageError,
      "missing --authpass: needed here",
    );
  }
});

/** A terminal whose input never comes, recording what the prompt did. */
function silentTerminal() {
  const log: string[] = [];
  let stop: (() => void) | undefined;
  let endInput: (value: null) => void = () => {};
  const terminal: SecretTerminal = {
    isTerminal: () => true,
    setRaw: (raw) => void log.push(`raw ${raw}`),
    read: () => new Promise((resolve) => endInput = resolve),
    write: (text) => {
      log.push(`write ${JSON.stringify(text)}`);
      return Promise.resolve();
    },
    onStop: (handler) => {
      stop = handler;
      return () => stop = undefined;
    },
  };
  return {
    terminal,
    log,
    signal: () => stop?.(),
    endInput: () => endInput(null),
  };
}

Deno.test("a stop signal during the prompt gives the terminal back and fails the prompt", async () => {
  const t = silentTerminal();
  const prompt = promptSecret("owner password", t.terminal);
  const outcome = prompt.then(() => "answered", (e) => messageOf(e));
  // Bounded wait for the prompt to be shown and in raw mode.
  for (let i = 0; i < 100 && !t.log.includes("raw true"); i++) {
    await new Promise((r) => setTimeout(r, 1));
  }
  t.signal();
  const settled = await Promise.race([
    outcome,
    new Promise((r) => setTimeout(() => r("still waiting"), 2000)),
  ]);
  t.endInput();
  await outcome;
  assertEquals(settled, "password prompt interrupted");
  assertEquals(t.log, [
    `write "owner password: "`,
    "raw true",
    "raw false",
    `write "\\n"`,
  ]);
});

Deno.test("a typed password leaves the terminal as it was and stops listening for signals", async () => {
  const t = silentTerminal();
  const chunks = [enc.encode("secret\r")];
  const terminal = {
    ...t.terminal,
    read: () => Promise.resolve(chunks.shift() ?? null),
  };
  assertEquals(await promptSecret("owner password", terminal), "secret");
  assertEquals(t.log.slice(1), ["raw true", "raw false", `write "\\n"`]);
  t.signal(); // nobody listens any more: nothing happens
  assertEquals(t.log.length, 4);
});

Deno.test("a terminal that refuses raw mode fails the prompt and leaves no signal listener", async () => {
  const t = silentTerminal();
  let listening = 0;
  const terminal: SecretTerminal = {
    ...t.terminal,
    setRaw: (raw) => {
      if (raw) throw new Error("raw mode not supported");
    },
    onStop: (handler) => {
      listening++;
      const remove = t.terminal.onStop(handler);
      return () => {
        listening--;
        remove();
      };
    },
  };
  await assertRejects(
    () => promptSecret("owner password", terminal),
    Error,
    "raw mode not supported",
  );
  assertEquals(listening, 0);
});
