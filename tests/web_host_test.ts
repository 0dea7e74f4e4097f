/**
 * Which `Host` a WebSocket upgrade may name (`lib/web/host.ts`), in process: the rule that keeps a
 * rebound DNS name out. The same rule over real sockets is in `web_test.ts`.
 */

import { assertEquals, assertMatch } from "./support/assert.ts";
import { hostChecker, hostOfHeader } from "../lib/web/host.ts";
import { normalizeHostName } from "../lib/web/origin.ts";

Deno.test("Host headers parse to a lower-case name or address, port and brackets dropped", () => {
  assertEquals(hostOfHeader("Chat.Example.COM:8080"), "chat.example.com");
  assertEquals(hostOfHeader("[::1]:7104"), "::1");
  assertEquals(hostOfHeader("127.0.0.1"), "127.0.0.1");
  assertEquals(hostOfHeader("example.com."), "example.com");
  for (const bad of ["", "a b", "x:y:z", "-bad.example", "evil.example:99999999", "[::1"]) {
    assertEquals(hostOfHeader(bad), undefined, bad);
  }
  assertEquals(normalizeHostName("a".repeat(64) + ".example"), undefined, "a label is at most 63");
});

Deno.test("a loopback server answers to its address and localhost, nothing else", () => {
  const check = hostChecker({ listen: "127.0.0.1", names: [], origins: [] });
  for (const ok of ["127.0.0.1:80", "localhost:1", "app.localhost"]) assertEquals(check(ok), undefined, ok);
  for (const bad of ["evil.example:7104", "127.0.0.2", "[::1]:7104", "10.0.0.1"]) {
    assertEquals(typeof check(bad), "string", bad);
  }
  assertEquals(check(undefined), "a request without Host");
});

Deno.test("a server on one address answers to that address, --web-host names and --web-origin hosts", () => {
  const check = hostChecker({
    listen: "192.0.2.10",
    names: ["chat.example.com"],
    origins: ["https://app.example.org", "*"],
    interfaces: () => ["192.0.2.10", "192.0.2.11"],
  });
  for (const ok of ["192.0.2.10:8080", "chat.example.com", "APP.example.org:443"]) {
    assertEquals(check(ok), undefined, ok);
  }
  for (const bad of ["192.0.2.11", "localhost", "127.0.0.1", "evil.example", "example.com"]) {
    assertEquals(typeof check(bad), "string", bad);
  }
});

Deno.test("a wildcard server answers to every address of the machine, loopback included", () => {
  for (const listen of ["0.0.0.0", "::"]) {
    const check = hostChecker({
      listen,
      names: [],
      origins: [],
      interfaces: () => ["192.0.2.10", "fe80::1"],
    });
    for (
      const ok of ["192.0.2.10:1", "[fe80::1]:1", "127.0.0.1", "[::1]", "localhost", "[::ffff:192.0.2.10]"]
    ) {
      assertEquals(check(ok), undefined, `${listen} ${ok}`);
    }
    for (const bad of ["192.0.2.99", "evil.example:7104", "rebind.example"]) {
      assertMatch(check(bad) ?? "", /does not name this server \(name it with --web-host\)/);
    }
  }
});
