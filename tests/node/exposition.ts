/**
 * A checker of the Prometheus text exposition format (0.0.4) for tests.
 */
import { assert, assertEquals } from "../assert.ts";

/**
 * Checks `text` line by line against the text format: HELP and TYPE once per
 * metric before its samples, sample names belonging to the metric (with the
 * histogram suffixes), label syntax, numeric values, a final newline.
 * Returns the samples as `name{labels}` -> value.
 */
export function parseExposition(text: string): Map<string, number> {
  assert(text.endsWith("\n"), "exposition ends with a newline");
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  let current: string | undefined;
  const labelRe = /^[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\n"])*"$/;
  for (const line of text.slice(0, -1).split("\n")) {
    const help = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (help) {
      assert(!types.has(help[1]), `HELP before TYPE, once: ${line}`);
      current = help[1];
      continue;
    }
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$/
      .exec(line);
    if (type) {
      assertEquals(type[1], current, `TYPE follows its HELP: ${line}`);
      assert(!types.has(type[1]), `one TYPE per metric: ${line}`);
      types.set(type[1], type[2]);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert(m, `a sample line: ${JSON.stringify(line)}`);
    const [, name, labels, value] = m;
    const base = types.get(current ?? "");
    const allowed = base === "histogram"
      ? [`${current}_bucket`, `${current}_sum`, `${current}_count`]
      : [current];
    assert(allowed.includes(name), `${name} belongs to ${current}`);
    if (labels !== undefined) {
      // Split on commas outside quotes.
      const parts = labels.match(/[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"/g) ??
        [];
      assertEquals(parts.join(","), labels, `label syntax: ${line}`);
      for (const p of parts) assert(labelRe.test(p), `label ${p}`);
    }
    const v = value === "+Inf" ? Infinity : Number(value);
    assert(!Number.isNaN(v) || value === "NaN", `numeric value: ${line}`);
    const key = `${name}${labels === undefined ? "" : `{${labels}}`}`;
    assert(!samples.has(key), `one sample per series: ${key}`);
    samples.set(key, v);
  }
  return samples;
}
