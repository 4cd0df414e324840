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
