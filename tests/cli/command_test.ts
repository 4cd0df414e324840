import { assertEquals, assertRejects } from "../assert.ts";
import { UsageError } from "../../src/cli/args.ts";
import {
  clientCommand,
  type Command,
  onStop,
  runCommand,
} from "../../src/cli/command.ts";
import { COMMANDS } from "../../src/cli/table.ts";
import { captureIo, NODE } from "./harness.ts";
import { withTempDir } from "../support.ts";

const NOT_RUN: Command = {
  name: "test cmd",
  summary: "a command whose run fails",
  flags: { json: { type: "boolean" } },
  help: "Usage: bcn test cmd [--json]\n",
  run: () => Promise.reject(new Error("run was called")),
};

Deno.test("--help prints the help and runs nothing", async () => {
  const io = captureIo();
  await runCommand(NOT_RUN, ["--json", "--help"], io);
  assertEquals(io.lines, ["Usage: bcn test cmd [--json]", ""]);
  assertEquals(io.errors, []);
  await assertRejects(
    () => runCommand(NOT_RUN, ["--json"], captureIo()),
    Error,
    "run was called",
  );
  await assertRejects(
    () => runCommand(NOT_RUN, ["--bogus", "--help"], captureIo()),
    UsageError,
    "unknown flag --bogus",
  );
});

Deno.test("a client command gets a checked --node before anything else", async () => {
  const seen: string[] = [];
  const echo = clientCommand({
    name: "test echo",
    summary: "prints its node",
    flags: { value: { type: "string" } },
    help: "Usage: bcn test echo --node HOST:PORT --value V\n",
    run: ({ node, flags }, io) => {
      seen.push(String(flags.value));
      io.out(`node ${node}`);
      return Promise.resolve();
    },
  });
  assertEquals(Object.keys(echo.flags).sort(), ["node", "value"]);
  const io = captureIo();
  await runCommand(echo, ["--node", NODE, "--value", "v"], io);
  assertEquals(io.lines, [`node ${NODE}`]);
  assertEquals(seen, ["v"]);
  await assertRejects(
    () => runCommand(echo, ["--value", "v"], captureIo()),
    UsageError,
    "missing --node",
  );
  await assertRejects(
    () => runCommand(echo, ["--node", "x"], captureIo()),
    UsageError,
    '--node: invalid address "x": expected host:port',
  );
  assertEquals(seen, ["v"]);
});

Deno.test("every command but dev needs --node", async () => {
  const checked: string[] = [];
  for (const command of COMMANDS) {
    // dev takes no --node: run without flags it would start a network.
    if (command.name === "dev") continue;
    await assertRejects(
      () => runCommand(command, [], captureIo()),
      UsageError,
      "missing --node",
    );
    checked.push(command.name);
  }
  assertEquals(checked, [
    "node start",
    "node subscribe",
    "node status",
    "account create",
    "account balance",
    "tx sign",
    "tx send",
    "tx search",
    "tx prove",
    "tx verify",
    "block search",
  ]);
});

Deno.test("onStop: an abort of io.signal calls the handler until removed", () => {
  const stop = new AbortController();
  let calls = 0;
  const remove = onStop(captureIo({ signal: stop.signal }), () => calls++);
  stop.abort();
  assertEquals(calls, 1);
  remove();

  const later = new AbortController();
  const removeLater = onStop(captureIo({ signal: later.signal }), () => {
    calls++;
  });
  removeLater();
  later.abort();
  assertEquals(calls, 1);

  // Already aborted: called at once.
  onStop(captureIo({ signal: AbortSignal.abort() }), () => calls++)();
  assertEquals(calls, 2);
});

Deno.test("a client command takes --node from BCN_NODE; the flag wins", async () => {
  const env = (name: string) => name === "BCN_NODE" ? "127.0.0.1:7" : undefined;
  const echo = clientCommand({
    name: "test echo",
    summary: "prints its node",
    flags: {},
    help: "Usage: bcn test echo --node HOST:PORT\n",
    run: ({ node }, io) => Promise.resolve(io.out(node)),
  });
  const io = { ...captureIo(), env };
  await runCommand(echo, [], io);
  await runCommand(echo, ["--node", NODE], io);
  assertEquals(io.lines, ["127.0.0.1:7", NODE]);
  const unset = { ...captureIo(), env: () => undefined };
  const err = await assertRejects(() => runCommand(echo, [], unset));
  assertEquals((err as Error).message, "missing --node (or set BCN_NODE)");
  // A node start's --node is where it listens: never BCN_NODE.
  const start = COMMANDS.find((c) => c.name === "node start")!;
  assertEquals(start.flags.node.env, undefined);
  await assertRejects(
    () => runCommand(start, [], { ...captureIo(), env }),
    UsageError,
    "missing --node",
  );
});

Deno.test("a password a command needs: flag, file, environment, else asked", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/pass`, "from-file\n");
    const seen: string[] = [];
    const asked: string[] = [];
    const cmd = clientCommand({
      name: "test pass",
      summary: "prints its password",
      flags: {
        ownerpass: {
          type: "string",
          env: "BCN_OWNERPASS",
          file: "ownerpass-file",
          prompt: "owner password",
        },
        "ownerpass-file": { type: "string" },
      },
      help: "Usage: bcn test pass --node HOST:PORT --ownerpass PASS\n",
      run: ({ flags }) => {
        seen.push(String(flags.ownerpass));
        return Promise.resolve();
      },
    });
    const io = (env?: string, typed?: string) => ({
      ...captureIo(),
      env: (name: string) => name === "BCN_OWNERPASS" ? env : undefined,
      promptSecret: (label: string) => {
        asked.push(label);
        return Promise.resolve(typed);
      },
    });
    const node = ["--node", NODE];
    const file = ["--ownerpass-file", `${dir}/pass`];
    await runCommand(cmd, [...node, "--ownerpass", "flag"], io("env", "t"));
    await runCommand(cmd, [...node, ...file], io("env", "t"));
    await runCommand(cmd, node, io("env", "t"));
    assertEquals(asked, []);
    await runCommand(cmd, node, io(undefined, "typed"));
    assertEquals(asked, ["owner password"]);
    // Nothing typed (or no terminal): the command's own error.
    await runCommand(cmd, node, io(undefined, undefined));
    assertEquals(seen, ["flag", "from-file", "env", "typed", "undefined"]);
    await assertRejects(
      () => runCommand(cmd, [...node, "--ownerpass", "x", ...file], io("env")),
      UsageError,
      "give only one of --ownerpass and --ownerpass-file",
    );
  });
});

Deno.test("every password flag has its file flag", () => {
  const withPasswords = COMMANDS.filter((c) =>
    Object.keys(c.flags).some((f) => f.endsWith("pass"))
  );
  assertEquals(withPasswords.map((c) => c.name), [
    "node start",
    "account create",
    "tx sign",
  ]);
  for (const c of withPasswords) {
    for (const [name, spec] of Object.entries(c.flags)) {
      if (!name.endsWith("pass")) continue;
      assertEquals(spec.file, `${name}-file`, `${c.name} --${name}`);
      assertEquals(c.flags[`${name}-file`]?.type, "string");
    }
  }
});
