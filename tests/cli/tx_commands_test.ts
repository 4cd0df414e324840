import {
  assert,
  assertEquals,
  assertRejects,
  assertThrows,
} from "../assert.ts";
import { KeyStoreError, writeKey } from "../../src/store/key_store.ts";
import { withTempDir } from "../support.ts";
import { blockHash } from "../../src/chain/block.ts";
import { encodeMerkleProof } from "../../src/chain/merkle.ts";
import { encodeSearchTx } from "../../src/chain/search_tx.ts";
import {
  decodeSigTx,
  encodeSigTx,
  txHash,
  verifyTx,
} from "../../src/chain/tx.ts";
import { UsageError } from "../../src/cli/args.ts";
import { runCommand } from "../../src/cli/command.ts";
import { findCommand } from "../../src/cli/table.ts";
import { formatTx } from "../../src/cli/format.ts";
import { NodeError } from "../../src/client/call_errors.ts";
import {
  formatSearchTx,
  formatTxSent,
  formatVerdict,
  parseHashFlag,
  parseProofFlag,
  parseSigTxFlag,
  txSearchQuery,
} from "../../src/cli/tx_commands.ts";
import {
  captureIo,
  CHAIN,
  H64,
  NODE,
  OWNER,
  PROOF,
  run,
  searchTx,
  TX,
  withFake,
} from "./harness.ts";

// ------------------------------------------------------- flag validation

Deno.test("tx sign: required flags", async () => {
  await assertRejects(
    () => run("tx sign", ["--node", NODE, "--from", "a", "--to", "b"]),
    UsageError,
    "missing --value",
  );
  await assertRejects(
    () =>
      run("tx sign", [
        "--node",
        NODE,
        "--from",
        OWNER,
        "--to",
        H64,
        "--value=1",
      ]),
    UsageError,
    "missing --ownerpass",
  );
});

Deno.test("tx sign asks for a missing password on a terminal", async () => {
  await withTempDir(async (dir) => {
    await writeKey(dir, CHAIN.owner, "secret");
    const found = findCommand(["tx", "sign"])!;
    const asked: string[] = [];
    const io = {
      ...captureIo(),
      env: () => undefined,
      promptSecret: (label: string) => {
        asked.push(label);
        return Promise.resolve("secret");
      },
    };
    const args = ["--keystore", dir, "--nonce", "1", "--from", OWNER];
    await runCommand(found.command, [...args, "--to", H64, "--value=2"], io);
    assertEquals(asked, ["password of the sender"]);
    assertEquals(decodeSigTx(io.lines[0]).to, H64);
    // A bad receiver is refused before anything is asked.
    await assertRejects(
      () => runCommand(found.command, [...args, "--to", "b", "--value=2"], io),
      UsageError,
      '--to: invalid address "b": expected 64 hex characters',
    );
    assertEquals(asked.length, 1);
  });
});

Deno.test("tx sign rejects a bad --value", async () => {
  for (const value of ["-1", "1.5", "x", "18446744073709551616", "01"]) {
    await assertRejects(
      () =>
        run("tx sign", [
          "--node",
          NODE,
          "--from",
          "a",
          "--to",
          "b",
          `--value=${value}`,
          "--ownerpass",
          "secret",
        ]),
      UsageError,
      "--value: expected an unsigned 64-bit integer",
    );
  }
});

Deno.test("tx send: an unknown flag, an empty stdin", async () => {
  await assertRejects(
    () => run("tx send", ["--node", NODE, "--bogus"]),
    UsageError,
    "unknown flag --bogus",
  );
  await assertRejects(
    () => run("tx send", ["--node", NODE, "--sigtx", "-"], { input: " \n" }),
    UsageError,
    "--sigtx -: nothing on stdin",
  );
});

Deno.test("tx search needs exactly one search flag", async () => {
  await assertRejects(
    () => run("tx search", ["--node", NODE]),
    UsageError,
    "give one of --hash, --from, --to and --account",
  );
  await assertRejects(
    () => run("tx search", ["--node", NODE, "--hash", "ab", "--from", "cd"]),
    UsageError,
    "give only one of --hash, --from, --to and --account, not --hash and --from",
  );
  assertThrows(
    () => txSearchQuery({ hash: "xyz" }),
    UsageError,
    '--hash: expected a prefix of 1 to 64 hex characters, got "xyz"',
  );
  assertThrows(() => txSearchQuery({ to: "" }), UsageError, "--to: empty");
  assertEquals(txSearchQuery({ from: "AB12" }), {
    flag: "from",
    prefix: "ab12",
  });
  assertEquals(txSearchQuery({ to: "bob" }), { flag: "to", prefix: "bob" });
  assertEquals(txSearchQuery({ account: "Bob" }), {
    flag: "account",
    prefix: "Bob",
  });
});

Deno.test("tx send names the bad field of --sigtx", async () => {
  const good = encodeSigTx(TX);
  assertEquals(encodeSigTx(parseSigTxFlag(good)), good);
  const cases: [string, string][] = [
    [good.replace(/"value":\d+/, '"value":"1"'), "--sigtx: value: expected"],
    [good.replace(/,"sig":"[^"]*"/, ""), "--sigtx: sig: missing"],
    [good.replace(/"time":"[^"]*"/, '"time":"now"'), "--sigtx: time:"],
    ["[1]", "--sigtx: expected an object"],
    ["{", "--sigtx: invalid JSON at offset 1"],
  ];
  for (const [text, message] of cases) {
    assertThrows(() => parseSigTxFlag(text), UsageError, message);
    await assertRejects(
      () => run("tx send", ["--node", NODE, "--sigtx", text]),
      UsageError,
      message,
    );
  }
});

Deno.test("hashes and proofs are checked before any call", async () => {
  await assertRejects(
    () => run("tx prove", ["--node", NODE, "--hash", "abc"]),
    UsageError,
    '--hash: expected a hash of 64 hex characters, got "abc"',
  );
  assertEquals(parseHashFlag("hash", "AB".repeat(32)), "ab".repeat(32));
  const proof = encodeMerkleProof([{ hash: H64, pos: 1 }]);
  await assertRejects(
    () =>
      run("tx verify", [
        "--node",
        NODE,
        "--hash",
        H64,
        "--mrkproof",
        proof,
        "--mrkroot",
        "a".repeat(63),
      ]),
    UsageError,
    "--mrkroot: expected a hash of 64 hex characters",
  );
  assertThrows(
    () => parseProofFlag(`[{"hash":"${H64}","pos":3}]`),
    UsageError,
    "--mrkproof: [0].pos: expected 1 (left) or 2 (right)",
  );
  assertThrows(
    () => parseProofFlag(`[{"hash":"abc","pos":1}]`),
    UsageError,
    "--mrkproof: [0].hash: expected a hash of 64 hex characters",
  );
  assertThrows(() => parseProofFlag("[]"), UsageError, "--mrkproof: empty");
  assertEquals(parseProofFlag(proof), [{ hash: H64, pos: 1 }]);
});

// ------------------------------------------------------------- formats

Deno.test("tx formats", () => {
  const hash = txHash(TX);
  assertEquals(formatTxSent(hash), `tx ${hash}`);
  assertEquals(formatTxSent(hash, { json: true }), `{"hash":"${hash}"}`);
  assertEquals(formatTxSent(hash, { queued: true }), `tx ${hash} queued`);
  assertEquals(
    formatTxSent(hash, { json: true, queued: true }),
    `{"hash":"${hash}","queued":true}`,
  );
  assertEquals(formatVerdict(hash, true, false), `tx ${hash} valid`);
  assertEquals(formatVerdict(hash, false, false), `tx ${hash} INVALID`);
  assertEquals(
    formatVerdict(hash, false, true),
    `{"hash":"${hash}","valid":false}`,
  );
  const st = searchTx(1, 2);
  assertEquals(
    formatSearchTx(st),
    `${formatTx(st)} blk 2 ${blockHash(CHAIN.blocks[1]).slice(0, 7)}`,
  );
});

Deno.test("tx sign: a bad --from never reaches the node", async () => {
  await assertRejects(
    () =>
      run("tx sign", [
        "--node",
        NODE,
        "--from",
        "zz",
        "--to",
        "b",
        "--value=1",
        "--ownerpass",
        "secret",
      ]),
    UsageError,
    '--from: invalid address "zz": expected 64 hex characters',
  );
});

// ------------------------------------------------------- local signing

Deno.test("tx sign --keystore signs here, with --nonce or the node's next", async () => {
  await withTempDir(async (dir) => {
    await writeKey(dir, CHAIN.owner, "secret");
    const args = ["--keystore", dir, "--from", OWNER, "--to", H64, "--value"];
    // No node at all: --nonce is given.
    const [line] = await run("tx sign", [
      ...args,
      "7",
      "--nonce",
      "3",
      "--ownerpass",
      "secret",
    ]);
    const tx = decodeSigTx(line);
    assertEquals([tx.from, tx.to, tx.value, tx.nonce], [OWNER, H64, 7n, 3n]);
    assert(verifyTx(tx), "signed by the sender's key");
    assertEquals(encodeSigTx(tx), line);
    // Neither --nonce nor --node: nothing to take the nonce from.
    await assertRejects(
      () => run("tx sign", [...args, "7", "--ownerpass", "secret"]),
      UsageError,
      "give --nonce N, or --node HOST:PORT",
    );
    // A wrong password is refused here, by the key file.
    await assertRejects(
      () =>
        run("tx sign", [...args, "7", "--nonce", "1", "--ownerpass", "wrong"]),
      KeyStoreError,
    );
    // With --node and no --nonce: after the sender's 6 confirmed ones.
    await withFake(async (node) => {
      const [line] = await run("tx sign", [
        ...args,
        "7",
        "--node",
        node,
        "--ownerpass",
        "secret",
      ]);
      assertEquals(decodeSigTx(line).nonce, 7n);
    });
  });
});

// ------------------------------------------------------ with a fake node

Deno.test("tx sign and send against a fake node", async () => {
  await withFake(async (node) => {
    const sign = ["--node", node, "--from", OWNER, "--to", H64, "--value"];
    assertEquals(
      await run("tx sign", [...sign, "1", "--ownerpass", "secret"]),
      [encodeSigTx(TX)],
    );
    await assertRejects(
      () => run("tx sign", [...sign, "1", "--ownerpass", "wrong"]),
      NodeError,
      `node ${node}: permission denied: wrong password`,
    );

    const hash = txHash(TX);
    // Sent in canonical form whatever the spacing of --sigtx.
    const spaced = encodeSigTx(TX).replace(/,/g, ", ");
    assertEquals(
      await run("tx send", ["--node", node, "--sigtx", spaced]),
      [`tx ${hash}`],
    );
    assertEquals(
      await run("tx send", ["--node", node, "--sigtx", spaced, "--json"]),
      [`{"hash":"${hash}"}`],
    );
    // `--sigtx -` reads the input, as `tx sign ... | tx send --sigtx -` does.
    assertEquals(
      await run("tx send", ["--node", node, "--sigtx", "-"], {
        input: encodeSigTx(TX) + "\n",
      }),
      [`tx ${hash}`],
    );
    // A bcn node says, in a response header, that it queued the transaction.
    const ahead = CHAIN.blocks[1].txs[0];
    const aheadArgs = ["--node", node, "--sigtx", encodeSigTx(ahead)];
    assertEquals(await run("tx send", aheadArgs), [
      `tx ${txHash(ahead)} queued`,
    ]);
    assertEquals(await run("tx send", [...aheadArgs, "--json"]), [
      `{"hash":"${txHash(ahead)}","queued":true}`,
    ]);
    const other = encodeSigTx(CHAIN.blocks[0].txs[1]);
    await assertRejects(
      () => run("tx send", ["--node", node, "--sigtx", other]),
      NodeError,
      `node ${node}: tx rejected: tx ${hash}: insufficient funds: balance 0, value 1`,
    );
  });
});

Deno.test("tx search, prove and verify against a fake node", async () => {
  await withFake(async (node) => {
    const to = CHAIN.others[0].address;
    const found = await run("tx search", ["--node", node, "--to", to]);
    const expected = CHAIN.blocks.flatMap((b, bi) =>
      b.txs.flatMap((t, ti) => t.to === to ? [searchTx(bi, ti)] : [])
    );
    // makeChain sends to its receivers in turn: two of six to the first.
    assertEquals(expected.map((t) => t.blockNumber), [1n, 2n]);
    assertEquals(found, expected.map(formatSearchTx));
    assertEquals(
      await run("tx search", ["--node", node, "--to", to, "--json"]),
      expected.map(encodeSearchTx),
    );
    await assertRejects(
      () => run("tx search", ["--node", node, "--to", "nobody"]),
      Error,
      "no transaction matches --to nobody",
    );

    const proven = txHash(CHAIN.blocks[0].txs[1]);
    const proof = await run("tx prove", ["--node", node, "--hash", proven]);
    assertEquals(proof, [encodeMerkleProof(PROOF)]);
    await assertRejects(
      () => run("tx prove", ["--node", node, "--hash", H64]),
      NodeError,
      `node ${node}: unknown tx: tx ${H64} not found`,
    );
    const root = CHAIN.blocks[0].merkleRoot;
    const verify = ["--node", node, "--hash", proven, "--mrkproof", proof[0]];
    assertEquals(
      await run("tx verify", [...verify, "--mrkroot", root]),
      [`tx ${proven} valid`],
    );
    assertEquals(
      await run("tx verify", [...verify, "--mrkroot", H64, "--json"]),
      [`{"hash":"${proven}","valid":false}`],
    );
  });
});
