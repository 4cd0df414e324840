import { assert, assertEquals } from "./assert.ts";
import { encodeSigTx, txHash } from "../src/chain/tx.ts";
import { mainHelp } from "../src/cli/table.ts";
import { main, VERSION } from "../src/main.ts";
import {
  BCN_PERMISSIONS,
  CONFIG_PATH,
  DENO,
  MAIN_PATH,
} from "./e2e/helpers.ts";
import { captureIo, H64, NODE, OWNER, TX, withFake } from "./cli/harness.ts";

/** Runs `main` in-process; its exit code and what it wrote. */
async function bcnIn(
  args: string[],
): Promise<{ code: number; out: string[]; err: string[] }> {
  const io = captureIo();
  const code = await main(args, { io });
  return { code, out: io.lines, err: io.errors };
}

Deno.test("bcn --help, -h and no arguments print the command list", async () => {
  const help = mainHelp(VERSION).split("\n");
  assertEquals(await bcnIn(["--help"]), { code: 0, out: help, err: [] });
  assertEquals(await bcnIn(["-h"]), { code: 0, out: help, err: [] });
  // Nothing asked: the same help, and `bcn help`.
  assertEquals(await bcnIn([]), { code: 0, out: help, err: [] });
  assertEquals(await bcnIn(["help"]), { code: 0, out: help, err: [] });
  assertEquals(await bcnIn(["help", "--help"]), {
    code: 0,
    out: help,
    err: [],
  });
  const version = [`bcn ${VERSION} (deno ${Deno.version.deno})`];
  for (const flag of ["--version", "-V", "version"]) {
    assertEquals(await bcnIn([flag]), { code: 0, out: version, err: [] });
  }
});

Deno.test("bcn help COMMAND prints its help; help GROUP the group's", async () => {
  const send = await bcnIn(["help", "tx", "send"]);
  assertEquals(send, await bcnIn(["tx", "send", "--help"]));
  assertEquals(send.code, 0);
  assert(send.out[0].startsWith("Usage: bcn tx send --node HOST:PORT "));
  assertEquals(await bcnIn(["help", "dev"]), await bcnIn(["dev", "--help"]));
  const tx = await bcnIn(["help", "tx"]);
  assertEquals(tx.code, 0);
  assertEquals(tx.out[0], "Usage: bcn tx COMMAND [flags]");
  assertEquals(await bcnIn(["help", "tx", "sned"]), {
    code: 1,
    out: [],
    err: [`bcn: unknown command "tx sned"; did you mean "tx send"?`],
  });
});

Deno.test("unknown commands and flags: did you mean the nearest one", async () => {
  for (
    const [args, line] of [
      [["tx", "sned"], `unknown command "tx sned"; did you mean "tx send"?`],
      [["tz", "send"], `unknown command "tz send"; did you mean "tx send"?`],
      [
        ["node", "stauts"],
        `unknown command "node stauts"; did you mean "node status"?`,
      ],
      [["dve"], `unknown command "dve"; did you mean "dev"?`],
      [["verison"], `unknown command "verison"; did you mean "version"?`],
      [
        ["tx", "send", "--sigtz", "x"],
        "unknown flag --sigtz; did you mean --sigtx?",
      ],
      [["tx", "send", "--bogus"], "unknown flag --bogus"],
    ] as const
  ) {
    assertEquals(await bcnIn([...args]), {
      code: 1,
      out: [],
      err: [`bcn: ${line}`],
    });
  }
});

Deno.test("a group alone prints its commands; unknown commands are one line", async () => {
  const node = await bcnIn(["node"]);
  assertEquals(node.code, 1);
  assertEquals(node.out[0], "Usage: bcn node COMMAND [flags]");
  assert(node.out.some((l) => l.startsWith("  node subscribe ")));
  assertEquals((await bcnIn(["node", "--help"])).code, 0);
  assertEquals((await bcnIn(["node", "-h"])).out, node.out);
  assertEquals(await bcnIn(["bogus"]), {
    code: 1,
    out: [],
    err: [`bcn: unknown command "bogus"; run 'bcn --help'`],
  });
  assertEquals(await bcnIn(["tx", "bogus", "--json"]), {
    code: 1,
    out: [],
    err: [`bcn: unknown command "tx bogus"; run 'bcn --help'`],
  });
});

Deno.test("a command's error is one line on err, exit code 1", async () => {
  assertEquals(await bcnIn(["tx", "send", "--node", NODE]), {
    code: 1,
    out: [],
    err: ["bcn: missing --sigtx"],
  });
  assertEquals(await bcnIn(["dev", "--nodes", "0"]), {
    code: 1,
    out: [],
    err: ['bcn: --nodes: expected an integer from 1 to 32, got "0"'],
  });
  const help = await bcnIn(["tx", "prove", "--help"]);
  assertEquals(help.code, 0);
  assertEquals(
    help.out[0],
    "Usage: bcn tx prove --node HOST:PORT --hash HASH [--json]",
  );
});

// ------------------------------------------------------- as a process

async function bcn(
  args: string[],
  stdin = "",
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(DENO, {
    args: [
      "run",
      ...BCN_PERMISSIONS,
      "--config",
      CONFIG_PATH,
      MAIN_PATH,
      ...args,
    ],
    env: { BCN_OWNERPASS: "", NO_COLOR: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(stdin));
  await writer.close();
  const out = await child.output();
  const text = new TextDecoder();
  return {
    code: out.code,
    stdout: text.decode(out.stdout),
    stderr: text.decode(out.stderr),
  };
}

Deno.test("bcn prints results on stdout and errors as one line, exit 1", async () => {
  await withFake(async (node) => {
    const ok = await bcn([
      "account",
      "balance",
      "--node",
      node,
      "--account",
      OWNER,
    ]);
    assertEquals(ok, {
      code: 0,
      stdout: `acc ${OWNER}: 1000000\n`,
      stderr: "",
    });
    const bad = await bcn(["tx", "send", "--node", node, "--sigtx", "{}"]);
    assertEquals(bad, {
      code: 1,
      stdout: "",
      stderr: "bcn: --sigtx: from: missing\n",
    });
    const piped = await bcn(
      ["tx", "send", "--node", node, "--sigtx", "-", "--json"],
      encodeSigTx(TX) + "\n",
    );
    assertEquals(piped, {
      code: 0,
      stdout: `{"hash":"${txHash(TX)}"}\n`,
      stderr: "",
    });
    const unknown = await bcn([
      "account",
      "balance",
      "--node",
      node,
      "--account",
      H64,
    ]);
    assertEquals(unknown, {
      code: 1,
      stdout: "",
      stderr:
        `bcn: node ${node}: unknown account: account ${H64} has no balance\n`,
    });
  });
  const help = await bcn(["--help"]);
  assertEquals(help, { code: 0, stdout: mainHelp(VERSION) + "\n", stderr: "" });
});
