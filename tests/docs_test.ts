/**
 * Every relative link in the README, CONTRIBUTING.md and docs/ resolves: the
 * file exists, and a `#fragment` names a heading of that file (GitHub's
 * anchors: lower case, punctuation dropped, spaces as dashes).
 */
import { assert, assertEquals } from "./assert.ts";

const ROOT = new URL("../", import.meta.url);

function markdownFiles(): string[] {
  const files = ["README.md", "CONTRIBUTING.md"];
  for (const entry of Deno.readDirSync(new URL("docs/", ROOT))) {
    if (entry.isFile && entry.name.endsWith(".md")) {
      files.push(`docs/${entry.name}`);
    }
  }
  return files.sort();
}

/** The text outside code fences and inline code spans. */
function prose(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```$/gm, "").replace(/`[^`\n]*`/g, "");
}

/** GitHub's anchor for a heading's text. */
function anchorOf(heading: string): string {
  return heading.trim().toLowerCase().replace(/`/g, "")
    .replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
}

function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const counts = new Map<string, number>();
  const body = markdown.replace(/^```[\s\S]*?^```$/gm, "");
  for (const m of body.matchAll(/^#{1,6} (.+)$/gm)) {
    const base = anchorOf(m[1]);
    const n = counts.get(base) ?? 0;
    counts.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

Deno.test("docs: GitHub anchors drop punctuation and keep dashes", () => {
  assertEquals(anchorOf("Keys: who may use them"), "keys-who-may-use-them");
  assertEquals(
    anchorOf("A local network: `bcn dev`"),
    "a-local-network-bcn-dev",
  );
  assertEquals(anchorOf("`GET /healthz`"), "get-healthz");
});

Deno.test("docs: every relative link resolves to a file and heading", () => {
  const files = markdownFiles();
  assert(files.length >= 5, `found ${files.length} markdown files`);
  const broken: string[] = [];
  let checked = 0;
  for (const file of files) {
    const text = Deno.readTextFileSync(new URL(file, ROOT));
    for (const m of prose(text).matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1];
      if (/^[a-z]+:/i.test(target)) continue; // https:, mailto:
      checked++;
      const [path, fragment] = target.split("#", 2);
      const resolved = path === ""
        ? new URL(file, ROOT)
        : new URL(path, new URL(file, ROOT));
      let content: string | undefined;
      try {
        const info = Deno.statSync(resolved);
        if (info.isFile) content = Deno.readTextFileSync(resolved);
      } catch {
        broken.push(`${file}: ${target} (no such file)`);
        continue;
      }
      if (
        fragment && content !== undefined && !anchorsOf(content).has(fragment)
      ) {
        broken.push(`${file}: ${target} (no such heading)`);
      }
    }
  }
  assert(checked > 10, `checked ${checked} links`);
  assertEquals(broken, []);
});

Deno.test("docs: every repository path they name in code spans exists", () => {
  const missing: string[] = [];
  let checked = 0;
  for (const file of markdownFiles()) {
    const text = Deno.readTextFileSync(new URL(file, ROOT));
    const re = /`((?:src|tests|bench|contrib|proto|docs)\/[\w./-]*)`/g;
    for (const m of text.matchAll(re)) {
      checked++;
      try {
        Deno.statSync(new URL(m[1], ROOT));
      } catch {
        missing.push(`${file}: ${m[1]}`);
      }
    }
  }
  assert(checked > 10, `checked ${checked} paths`);
  assertEquals(missing, []);
});
