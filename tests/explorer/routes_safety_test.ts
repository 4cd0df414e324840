/**
 * The explorer's answers as an attacker sees them: a policy that lets no
 * HTML sink, inline code, other origin, frame, form or base through; and
 * methods other than GET and HEAD refused on its paths.
 */
import { assert, assertEquals } from "../assert.ts";
import { EXPLORER_CSP } from "../../src/explorer/routes.ts";
import { serve } from "./serve.ts";

Deno.test("the explorer's policy is strict in every directive", () => {
  const directives = new Map(
    EXPLORER_CSP.split(";").map((d) => {
      const [name, ...values] = d.trim().split(/\s+/);
      return [name, values.join(" ")];
    }),
  );
  assertEquals(directives.get("default-src"), "'none'");
  for (const d of ["script-src", "style-src", "img-src", "connect-src"]) {
    assertEquals(directives.get(d), "'self'", d);
  }
  for (const d of ["base-uri", "form-action", "frame-ancestors"]) {
    assertEquals(directives.get(d), "'none'", d);
  }
  assertEquals(directives.get("require-trusted-types-for"), "'script'");
  assertEquals(directives.get("trusted-types"), "'none'");
  assert(!/unsafe-|data:|blob:|\*/.test(EXPLORER_CSP), EXPLORER_CSP);
});

Deno.test("explorer paths: HEAD has no body, other methods 405", () => {
  for (const path of ["/", "/explorer/app.js", "/explorer/style.css"]) {
    const get = serve("GET", path);
    const head = serve("HEAD", path);
    assertEquals(head.status, 200);
    assertEquals(head.body.length, 0);
    assertEquals(head.head["content-length"], get.body.length);
    assertEquals(head.head["content-security-policy"], EXPLORER_CSP);
    for (const method of ["POST", "PUT", "DELETE", "OPTIONS"]) {
      const r = serve(method, path);
      assertEquals(r.status, 405, `${method} ${path}`);
      assertEquals(r.head["allow"], "GET, HEAD");
    }
  }
});
