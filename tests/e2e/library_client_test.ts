/**
 * A project outside the repository uses the package the way
 * docs/library.md says (a `deno.json` whose `links` point at the clone),
 * imports the root export `@bcn/bcn` as a user would, and drives a real
 * node with `Client`: a balance, a transfer signed on its side with the
 * owner's key file and sent, the block holding it seen on the event stream,
 * found by search, proved and verified.
 */
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { assertEquals } from "../assert.ts";
import { decodeSigGenesis } from "../../src/chain/genesis.ts";
import {
  bootstrapArgs,
  DENO,
  freePort,
  startBcn,
  withTempDir,
} from "./helpers.ts";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const PROGRAM = fileURLToPath(new URL("./library_client.ts", import.meta.url));

Deno.test("a project linking the clone uses Client from @bcn/bcn against a real node", async () => {
  await withTempDir(async (tmp) => {
    const addr = `127.0.0.1:${freePort()}`;
    const node = await startBcn(
      [...bootstrapArgs(addr, { dir: tmp }), "--period", "1s"],
      { cwd: tmp },
    );
    try {
      await node.waitFor(`<=> gRPC ${addr}\n`);
      const genesis = decodeSigGenesis(
        await Deno.readFile(join(tmp, "blockstore/genesis.json")),
      );
      const [owner] = [...genesis.balances.keys()];

      // The user's project, as docs/library.md describes it.
      const app = join(tmp, "app");
      await Deno.mkdir(app);
      await Deno.writeTextFile(
        join(app, "deno.json"),
        JSON.stringify(
          {
            imports: { "@bcn/bcn": "jsr:@bcn/bcn@^0.1.0" },
            links: [relative(app, REPO)],
          },
          null,
          2,
        ),
      );
      await Deno.copyFile(PROGRAM, join(app, "main.ts"));
      const keyStore = join(tmp, "keystore");
      const out = await new Deno.Command(DENO, {
        args: [
          "run",
          `--allow-net=${addr}`,
          `--allow-read=${keyStore}`,
          "main.ts",
          addr,
          owner,
          keyStore,
          "password",
        ],
        cwd: app,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
        signal: AbortSignal.timeout(120_000),
      }).output();
      const dec = new TextDecoder();
      assertEquals(out.code, 0, dec.decode(out.stderr));
      const seen = JSON.parse(dec.decode(out.stdout));
      assertEquals(seen, {
        before: "1000",
        after: "995",
        nonce: "1",
        hash: seen.hash,
        queued: false,
        seenIn: seen.foundIn,
        foundIn: seen.foundIn,
        found: 1,
        inBlock: true,
        validOnNode: true,
        validHere: true,
      });
      assertEquals(seen.hash.length, 64);
    } finally {
      await node.stop();
    }
  });
});
