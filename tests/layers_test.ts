/**
 * The layers of `src/`, top to bottom: `main.ts`, then cli -> client -> node
 * -> node's wings (verify/, observe/) -> rpc -> http (and explorer beside
 * it) -> store -> chain -> util. A module may import from its own layer and
 * the ones below, never from one above (`src/rpc/gen/` is generated code,
 * inside rpc). So bcn's own HTTP knows nothing of the Connect services, the
 * node's verification pool and observability nothing of its lifecycle, and
 * the general helpers in util/ nothing of the chain.
 */
import { assertEquals } from "./assert.ts";
import { dirname, join, normalize, relative } from "node:path";
import { fileURLToPath } from "node:url";

const SRC = fileURLToPath(new URL("../src/", import.meta.url));

/** Rank of each layer: a module imports only from ranks <= its own. */
const RANKS: Readonly<Record<string, number>> = {
  util: 0,
  chain: 1,
  store: 2,
  http: 3,
  // The block explorer: fixed browser files and their HTTP routes.
  explorer: 3,
  rpc: 4,
  // The node's wings: the verification pool and observability (status,
  // health, metrics), which its lifecycle modules use.
  "node/verify": 5,
  "node/observe": 5,
  node: 6,
  client: 7,
  cli: 8,
};
/** `main.ts` (and anything else at the top of src/) sits above every layer. */
const TOP = 9;

/**
 * The layer rank of a path relative to src/, e.g. `rpc/tx.ts` -> 4; a
 * wing (`node/verify/pool.ts`) ranks as its folder.
 */
function rankOf(path: string): number {
  const [first, second] = path.split(/[\\/]/);
  return RANKS[`${first}/${second}`] ?? RANKS[first] ?? TOP;
}

/**
 * The relative module specifiers a source imports or re-exports, statically
 * or dynamically; specifiers in comments (JSDoc examples) are skipped.
 */
function importsOf(source: string): string[] {
  const code = source
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/^\s*\/\/.*$/gm, "");
  const specs: string[] = [];
  const patterns = [
    /^\s*(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']/gm,
    /^\s*import\s*["']([^"']+)["']/gm,
    /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
  ];
  for (const re of patterns) {
    for (const m of code.matchAll(re)) specs.push(m[1]);
  }
  return specs.filter((s) => s.startsWith("."));
}

/**
 * The imports of `file` (relative to src/) that run up a layer, as
 * `from -> to` lines.
 */
function upwardImports(file: string, source: string): string[] {
  const bad: string[] = [];
  for (const spec of importsOf(source)) {
    const target = normalize(join(dirname(file), spec));
    // Outside src/ only data (deno.json) may be read, never a module.
    const outside = target.startsWith("..");
    if (outside ? target.endsWith(".ts") : rankOf(target) > rankOf(file)) {
      bad.push(`${file} -> ${target}`);
    }
  }
  return bad;
}

/** Every .ts file under `dir`, relative to src/, without rpc/gen. */
async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    const rel = relative(SRC, path);
    if (entry.isDirectory) {
      if (rel !== join("rpc", "gen")) out.push(...await sources(path));
    } else if (entry.name.endsWith(".ts")) {
      out.push(rel);
    }
  }
  return out;
}

Deno.test("the layer check sees an upward import, and only that", () => {
  const source = [
    "/** ```ts",
    ' * import { Node } from "../node/node.ts";',
    " * ``` */",
    'import { Ledger } from "../node/ledger.ts";',
    "import {",
    "  type State,",
    '} from "../chain/state.ts";',
    'export { readKey } from "../store/key_store.ts";',
    'const m = await import("../cli/args.ts");',
    'import "../main.ts";',
    'import { plain } from "../http/http_routes.ts";',
  ].join("\n");
  assertEquals(upwardImports("rpc/tx.ts", source), [
    "rpc/tx.ts -> node/ledger.ts",
    "rpc/tx.ts -> main.ts",
    "rpc/tx.ts -> cli/args.ts",
  ]);
  assertEquals(
    upwardImports("main.ts", 'import { runCli } from "./cli/args.ts";'),
    [],
  );
  assertEquals(
    upwardImports("http/h2_server.ts", 'import { Tx } from "../rpc/tx.ts";'),
    ["http/h2_server.ts -> rpc/tx.ts"],
  );
  assertEquals(
    upwardImports("util/errors.ts", 'import { Tx } from "../chain/tx.ts";'),
    ["util/errors.ts -> chain/tx.ts"],
  );
  assertEquals(
    upwardImports(
      "node/x.ts",
      'import cfg from "../../deno.json" with { type: "json" };',
    ),
    [],
  );
  assertEquals(upwardImports("node/x.ts", 'import "../../mod.ts";'), [
    "node/x.ts -> ../mod.ts",
  ]);
  // A wing sits below its layer's top, not beside it.
  assertEquals(
    upwardImports("node/observe/monitor.ts", 'import "../ledger.ts";'),
    ["node/observe/monitor.ts -> node/ledger.ts"],
  );
  assertEquals(
    upwardImports("node/ledger.ts", 'import "./verify/pool.ts";'),
    [],
  );
});

Deno.test("no module of src/ imports from a layer above it", async () => {
  const files = await sources(SRC);
  // Every layer is there: an empty walk would prove nothing.
  for (const layer of Object.keys(RANKS)) {
    assertEquals(
      files.some((f) => f.startsWith(layer + "/")),
      true,
      `no file in src/${layer}`,
    );
  }
  const bad: string[] = [];
  for (const file of files) {
    bad.push(...upwardImports(file, await Deno.readTextFile(join(SRC, file))));
  }
  assertEquals(bad, []);
});
