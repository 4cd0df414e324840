import { assert, assertEquals } from "../assert.ts";
import { runCommand } from "../../src/cli/command.ts";
import {
  COMMANDS,
  findCommand,
  groupHelp,
  isGroup,
  mainHelp,
  unknownCommand,
} from "../../src/cli/table.ts";
import { captureIo } from "./harness.ts";

Deno.test("each command's --help is its usage, naming every flag it takes", async () => {
  for (const command of COMMANDS) {
    const io = captureIo();
    await runCommand(command, ["--help"], io);
    assertEquals(io.lines.join("\n"), command.help, command.name);
    assert(
      command.help.startsWith(`Usage: bcn ${command.name} `),
      command.name,
    );
    const inHelp = new Set(
      [...command.help.matchAll(/^ {2}--([a-z-]+)/gm)].map((m) => m[1]),
    );
    assertEquals(
      [...inHelp].sort(),
      Object.keys(command.flags).sort(),
      `${command.name}: the flags of its help and of its spec`,
    );
  }
});

Deno.test("every command but dev takes --node; the client commands --json", () => {
  for (const c of COMMANDS) {
    if (c.name === "dev") continue;
    assert(
      c.help.startsWith(`Usage: bcn ${c.name} --node HOST:PORT `),
      c.name,
    );
  }
  const withJson = COMMANDS.filter((c) => c.flags.json !== undefined);
  assertEquals(
    withJson.map((c) => c.name),
    COMMANDS.map((c) => c.name).filter((n) =>
      n !== "dev" && n !== "node start"
    ),
  );
});

Deno.test("bcn --help lists every command once, in table order", () => {
  const help = mainHelp("9.9.9");
  assert(help.startsWith("bcn 9.9.9: a proof-of-authority"));
  const listed = help.split("\n").filter((l) => /^ {2}[a-z]/.test(l));
  assertEquals(listed.length, COMMANDS.length);
  COMMANDS.forEach((c, i) => {
    assertEquals(listed[i], `  ${c.name.padEnd(15)}  ${c.summary}`);
  });
  assertEquals(new Set(COMMANDS.map((c) => c.name)).size, COMMANDS.length);
});

Deno.test("a group's help lists its commands only", () => {
  const help = groupHelp("tx");
  assert(help.startsWith("Usage: bcn tx COMMAND [flags]\n"));
  const listed = help.split("\n").filter((l) => l.startsWith("  "));
  assertEquals(
    listed.map((l) => l.trim().split(/ {2,}/)[0]),
    ["tx sign", "tx send", "tx search", "tx prove", "tx verify"],
  );
  assert(help.endsWith("Run 'bcn tx COMMAND --help' for a command's flags.\n"));
});

Deno.test("commands are found by their words", () => {
  assertEquals(findCommand(["dev", "--nodes", "2"])?.words, 1);
  assertEquals(findCommand(["tx", "send", "--json"])?.command.name, "tx send");
  assertEquals(findCommand(["node", "status"])?.words, 2);
  assertEquals(findCommand(["tx"]), undefined);
  assertEquals(findCommand(["tx", "bogus"]), undefined);
  assertEquals(findCommand(["send", "tx"]), undefined);
  assertEquals(findCommand([]), undefined);
  assertEquals(["node", "account", "tx", "block"].map(isGroup), [
    true,
    true,
    true,
    true,
  ]);
  assertEquals(["dev", "start", "t"].map(isGroup), [false, false, false]);
});

Deno.test("an unknown command: the nearest one, else bcn --help", () => {
  assertEquals(
    unknownCommand(["tx", "sned", "--json"]),
    'unknown command "tx sned"; did you mean "tx send"?',
  );
  assertEquals(
    unknownCommand(["acount", "balance"]),
    'unknown command "acount balance"; did you mean "account balance"?',
  );
  assertEquals(
    unknownCommand(["acount"]),
    'unknown command "acount"; did you mean "account"?',
  );
  assertEquals(
    unknownCommand(["hepl"]),
    'unknown command "hepl"; did you mean "help"?',
  );
  assertEquals(
    unknownCommand(["bogus", "x"]),
    `unknown command "bogus"; run 'bcn --help'`,
  );
  assertEquals(
    unknownCommand(["tx", "bogus"]),
    `unknown command "tx bogus"; run 'bcn --help'`,
  );
  assertEquals(
    unknownCommand(["--bogus"]),
    `unknown command "--bogus"; run 'bcn --help'`,
  );
});

Deno.test("required flags are marked in every command's help", () => {
  for (const c of COMMANDS) {
    if (c.name === "dev") continue;
    const node = c.help.split("\n").find((l) => l.startsWith("  --node "));
    assert(node?.includes("(required"), c.name);
    // A client command says its default, BCN_NODE.
    assertEquals(node?.includes("BCN_NODE"), c.name !== "node start", c.name);
  }
  const start = COMMANDS.find((c) => c.name === "node start")!.help;
  for (const flag of ["authpass", "ownerpass", "balance"]) {
    const at = start.indexOf(`  --${flag} `);
    assert(/\(required/.test(start.slice(at, at + 120)), flag);
  }
});
