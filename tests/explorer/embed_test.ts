/**
 * The embedded explorer (`src/explorer/assets_gen.ts`) is what the files in
 * `src/explorer/assets/` say (`deno task gen:explorer` after any change),
 * and the routes serve it with the headers that keep it safe.
 */
import { assert, assertEquals } from "../assert.ts";
import { ASSET_FILES, embedModule } from "../../src/explorer/embed.ts";
import {
  EXPLORER_CSP,
  explorerRoutes,
  explorerSize,
} from "../../src/explorer/routes.ts";
import { serve } from "./serve.ts";

const ASSETS = new URL("../../src/explorer/assets/", import.meta.url);
const GENERATED = new URL(
  "../../src/explorer/assets_gen.ts",
  import.meta.url,
);

Deno.test("assets_gen.ts matches src/explorer/assets (deno task gen:explorer)", async () => {
  const texts: Record<string, string> = {};
  for (const f of ASSET_FILES) {
    texts[f.name] = await Deno.readTextFile(new URL(f.name, ASSETS));
  }
  const want = embedModule(texts);
  const got = await Deno.readTextFile(GENERATED);
  assert(
    got === want,
    "src/explorer/assets_gen.ts is stale: run deno task gen:explorer",
  );
  // Every file of the folder is embedded: none is forgotten.
  const names: string[] = [];
  for await (const e of Deno.readDir(ASSETS)) names.push(e.name);
  assertEquals(names.sort(), ASSET_FILES.map((f) => f.name).sort());
});

Deno.test("the explorer routes answer with CSP and nosniff, under 200 KB", () => {
  const routes = explorerRoutes();
  assertEquals(
    Object.keys(routes).sort(),
    ASSET_FILES.map((f) => f.path).sort(),
  );
  const { status, head, body } = serve("GET", "/?x=1");
  assertEquals(status, 200);
  assertEquals(head["content-type"], "text/html; charset=utf-8");
  assertEquals(head["content-security-policy"], EXPLORER_CSP);
  assertEquals(head["x-content-type-options"], "nosniff");
  assertEquals(head["content-length"], body.length);
  assert(new TextDecoder().decode(body).includes('src="/explorer/app.js"'));
  // No inline script or style: the policy allows only files of this origin.
  assert(!EXPLORER_CSP.includes("unsafe-inline"));
  assert(EXPLORER_CSP.includes("connect-src 'self'"));
  assert(EXPLORER_CSP.includes("script-src 'self'"));
  assert(explorerSize() < 200 * 1024, `${explorerSize()} bytes`);
});

Deno.test("the page's HTML has no inline script, style or handler", async () => {
  const html = await Deno.readTextFile(new URL("index.html", ASSETS));
  assertEquals(/<script(?![^>]*\bsrc=)[^>]*>/.test(html), false);
  assertEquals(/<style\b|\sstyle=|\son[a-z]+=/i.test(html), false);
  // The page's code writes chain values as text only.
  for (const f of ["app.js", "lib.js"]) {
    const code = await Deno.readTextFile(new URL(f, ASSETS));
    assertEquals(
      /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/.test(
        code,
      ),
      false,
      f,
    );
  }
});

Deno.test("the page calls only read RPCs: no key-holding or writing call", async () => {
  const code = await Deno.readTextFile(new URL("app.js", ASSETS));
  const called = new Set(
    [...code.matchAll(/"((?:Block|Tx|Account|Node)\/[A-Za-z]+)"/g)].map((m) =>
      m[1]
    ),
  );
  const READ = [
    "Account/AccountBalance",
    "Block/BlockSearch",
    "Block/BlockSync",
    "Node/StreamSubscribe",
    "Tx/TxProve",
    "Tx/TxSearch",
  ];
  assertEquals([...called].sort(), READ);
});
