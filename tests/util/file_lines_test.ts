import { assertEquals, assertRejects } from "../assert.ts";
import { fileLines } from "../../src/util/file_lines.ts";
import { decodeUtf8 } from "../../src/util/utf8.ts";

async function linesOf(
  text: string,
  options: { chunkSize?: number; skip?: number } = {},
): Promise<string[]> {
  await Deno.mkdir(".tmp", { recursive: true });
  const path = await Deno.makeTempFile({ dir: ".tmp" });
  try {
    await Deno.writeTextFile(path, text);
    const out: string[] = [];
    for await (const l of fileLines(await Deno.open(path), options)) {
      out.push(decodeUtf8(l));
    }
    return out;
  } finally {
    await Deno.remove(path);
  }
}

Deno.test("fileLines: lines longer than a read, skipped ones, no torn tail", async () => {
  assertEquals(await linesOf("ab\ncdefgh\n\nxy", { chunkSize: 3 }), [
    "ab",
    "cdefgh",
    "",
  ]);
  assertEquals(await linesOf("ab\ncdefgh\ni\n", { chunkSize: 2, skip: 2 }), [
    "i",
  ]);
});

Deno.test("fileLines: an aborted signal stops the reading", async () => {
  await Deno.mkdir(".tmp", { recursive: true });
  const path = await Deno.makeTempFile({ dir: ".tmp" });
  try {
    await Deno.writeTextFile(path, "a\nb\n");
    const stop = new AbortController();
    stop.abort(new Error("stopped"));
    await assertRejects(
      async () => {
        for await (
          const _ of fileLines(await Deno.open(path), {
            signal: stop.signal,
          })
        ) {
          // never reached
        }
      },
      Error,
      "stopped",
    );
  } finally {
    await Deno.remove(path);
  }
});
