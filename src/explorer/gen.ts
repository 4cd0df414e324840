/**
 * Writes `assets_gen.ts` from the files in `assets/`:
 * `deno task gen:explorer`.
 *
 * @module
 */
import { ASSET_FILES, embedModule } from "./embed.ts";

const dir = new URL("./assets/", import.meta.url);
const texts: Record<string, string> = {};
for (const f of ASSET_FILES) {
  texts[f.name] = await Deno.readTextFile(new URL(f.name, dir));
}
const out = new URL("./assets_gen.ts", import.meta.url);
await Deno.writeTextFile(out, embedModule(texts));
console.log(`wrote ${out.pathname}`);
