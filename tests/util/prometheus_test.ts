/**
 * The exposition module against the Prometheus text format (0.0.4): exact
 * output for a small registry, escaping, cumulative histogram buckets, the
 * cap on label sets, and a format check of every line.
 */
import { assert, assertEquals, assertThrows } from "../assert.ts";
import { MAX_SERIES, Registry } from "../../src/util/prometheus.ts";
import { parseExposition } from "../node/exposition.ts";

Deno.test("a small registry renders exactly the text format", () => {
  const r = new Registry();
  const c = r.counter("t_calls_total", "Calls.", ["method", "code"]);
  const g = r.gauge("t_height", "Height.");
  const h = r.histogram("t_seconds", "Time.", { buckets: [0.1, 1] });
  c.inc({ method: "Send", code: "ok" });
  c.inc({ method: "Send", code: "ok" }, 2);
  g.set(7);
  h.observe(0.05);
  h.observe(0.5);
  h.observe(3);
  assertEquals(
    r.render(),
    [
      "# HELP t_calls_total Calls.",
      "# TYPE t_calls_total counter",
      't_calls_total{method="Send",code="ok"} 3',
      "# HELP t_height Height.",
      "# TYPE t_height gauge",
      "t_height 7",
      "# HELP t_seconds Time.",
      "# TYPE t_seconds histogram",
      't_seconds_bucket{le="0.1"} 1',
      't_seconds_bucket{le="1"} 2',
      't_seconds_bucket{le="+Inf"} 3',
      "t_seconds_sum 3.55",
      "t_seconds_count 3",
      "",
    ].join("\n"),
  );
});

Deno.test("label values and help text are escaped", () => {
  const r = new Registry();
  r.gauge("t_g", 'A "help"\nwith \\ in it.', ["v"]).set(1, {
    v: 'a"b\\c\nd',
  });
  const text = r.render();
  assert(text.includes('# HELP t_g A "help"\\nwith \\\\ in it.\n'), text);
  assert(text.includes('t_g{v="a\\"b\\\\c\\nd"} 1\n'), text);
  assertEquals(parseExposition(text).size, 1);
});

Deno.test("histogram buckets are cumulative, per label set", () => {
  const r = new Registry();
  const h = r.histogram("t_h", "H.", {
    buckets: [1, 2, 4],
    labelNames: ["m"],
  });
  for (const v of [0.5, 1, 1.5, 3, 9]) h.observe(v, { m: "a" });
  h.observe(2, { m: "b" });
  const s = parseExposition(r.render());
  assertEquals(s.get('t_h_bucket{m="a",le="1"}'), 2);
  assertEquals(s.get('t_h_bucket{m="a",le="2"}'), 3);
  assertEquals(s.get('t_h_bucket{m="a",le="4"}'), 4);
  assertEquals(s.get('t_h_bucket{m="a",le="+Inf"}'), 5);
  assertEquals(s.get('t_h_count{m="a"}'), 5);
  assertEquals(s.get('t_h_sum{m="a"}'), 15);
  assertEquals(s.get('t_h_bucket{m="b",le="1"}'), 0);
  assertEquals(s.get('t_h_bucket{m="b",le="2"}'), 1);
});

Deno.test("metrics with no label exist from the start; labelled ones do not", () => {
  const r = new Registry();
  r.counter("t_c_total", "C.");
  r.counter("t_l_total", "L.", ["x"]);
  r.histogram("t_h", "H.", { buckets: [1] });
  const s = parseExposition(r.render());
  assertEquals(s.get("t_c_total"), 0);
  assertEquals([...s.keys()].some((k) => k.startsWith("t_l_total")), false);
  assertEquals(s.get('t_h_bucket{le="+Inf"}'), 0);
  assertEquals(s.get("t_h_count"), 0);
});

Deno.test("a labelled counter's known label sets start at 0", () => {
  const r = new Registry();
  const c = r.counter("t_k_total", "K.", ["x"], [{ x: "a" }, { x: "b" }]);
  let s = parseExposition(r.render());
  assertEquals(s.get('t_k_total{x="a"}'), 0);
  assertEquals(s.get('t_k_total{x="b"}'), 0);
  assertEquals(s.size, 2);
  c.inc({ x: "b" }, 3);
  c.inc({ x: "c" });
  s = parseExposition(r.render());
  assertEquals(s.get('t_k_total{x="a"}'), 0);
  assertEquals(s.get('t_k_total{x="b"}'), 3);
  assertEquals(s.get('t_k_total{x="c"}'), 1);
  // A known label set must name the counter's labels.
  assertThrows(
    () => r.counter("t_bad_total", "B.", ["x"], [{ y: "a" }]),
    TypeError,
    "t_bad_total: expected labels x",
  );
});

Deno.test("label sets are capped: the rest are counted as other", () => {
  const r = new Registry();
  const c = r.counter("t_total", "T.", ["k"]);
  for (let i = 0; i < MAX_SERIES + 50; i++) c.inc({ k: `v${i}` });
  const s = parseExposition(r.render());
  assertEquals(s.size, MAX_SERIES);
  assertEquals(s.get('t_total{k="other"}'), 51);
});

Deno.test("collectors run before each render", () => {
  const r = new Registry();
  const g = r.gauge("t_g", "G.");
  let n = 0;
  r.onCollect(() => g.set(++n));
  assert(r.render().includes("t_g 1\n"));
  assert(r.render().includes("t_g 2\n"));
});

Deno.test("misuse is refused with a message naming the metric", () => {
  const r = new Registry();
  const c = r.counter("t_total", "T.", ["a"]);
  assertThrows(
    () => c.inc({ b: "x" }),
    TypeError,
    "t_total: expected labels a",
  );
  assertThrows(() => c.inc({ a: "x" }, -1), RangeError, "cannot add -1");
  assertThrows(
    () => r.gauge("t_total", "again"),
    TypeError,
    "registered twice",
  );
  assertThrows(() => r.gauge("bad-name", "x"), TypeError, "invalid metric");
  assertThrows(
    () => r.histogram("t_h", "H.", { buckets: [2, 1] }),
    RangeError,
    "ascending",
  );
});
