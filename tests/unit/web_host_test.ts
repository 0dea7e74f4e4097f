/**
 * Which `Host` a WebSocket upgrade may name (`lib/web/host.ts`), in process: the rule that keeps a
 * rebound DNS name out. The same rule over real sockets is in `web_test.ts`.
 */

import { assertEquals, assertMatch } from "../support/assert.ts";
import { hostChecker, hostOfHeader } from "../../lib/web/host.ts";
import { normalizeHostName, normalizeOrigin } from "../../lib/web/origin.ts";
import { isLoopback } from "../../lib/util/ip.ts";

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
    for (const bad of ["192.0.2.99", "evil.example:7104", "rebind.example", "0.0.0.0", "[::]"]) {
      assertMatch(check(bad) ?? "", /does not name this server \(name it with --web-host\)/);
    }
  }
});

Deno.test("a Host header is trimmed; a malformed one is quoted in the refusal", () => {
  const check = hostChecker({ listen: "127.0.0.1", names: [], origins: [] });
  assertEquals(hostOfHeader("  localhost:80 "), "localhost");
  assertEquals(check(" localhost "), undefined);
  assertEquals(check("x y"), 'a malformed Host "x y"');
  assertEquals(
    check("evil.example"),
    'Host "evil.example" does not name this server (name it with --web-host)',
  );
});

Deno.test("a server listening on a name answers to that name, not to addresses or localhost", () => {
  const check = hostChecker({ listen: "Parley.Example", names: [], origins: [] });
  assertEquals(check("parley.example:7104"), undefined);
  for (const bad of ["127.0.0.1", "192.0.2.10", "[::1]", "localhost", "other.example"]) {
    assertEquals(typeof check(bad), "string", bad);
  }
  // A listen host no header can spell adds nothing, and refuses nothing else.
  const odd = hostChecker({ listen: "not a host", names: ["chat.example"], origins: [] });
  assertEquals(odd("chat.example"), undefined);
  assertEquals(typeof odd("localhost"), "string");
});

Deno.test("an IPv4 address never passes for an IPv6 one whose bytes begin the same", () => {
  const six = hostChecker({ listen: "a00:1::", names: [], origins: [] });
  assertEquals(six("[a00:1::]:80"), undefined);
  assertEquals(typeof six("10.0.0.1"), "string");
  const four = hostChecker({ listen: "10.0.0.1", names: [], origins: [] });
  assertEquals(typeof four("[a00:1::]"), "string");
  const wildcard = hostChecker({ listen: "::", names: [], origins: [], interfaces: () => ["10.0.0.1"] });
  assertEquals(typeof wildcard("[a00:1::]"), "string");
});

Deno.test("a --web-origin with an IPv6 host admits that address, without brackets", () => {
  const check = hostChecker({ listen: "192.0.2.10", names: [], origins: ["http://[fd00::5]:8080"] });
  assertEquals(check("[fd00::5]:8080"), undefined);
  assertEquals(typeof check("[fd00::6]"), "string");
});

Deno.test("a wildcard server asks the machine for its addresses, and skips any it cannot read", () => {
  const mine = Deno.networkInterfaces().map((info) => info.address).find((address) => !isLoopback(address));
  const check = hostChecker({ listen: "0.0.0.0", names: [], origins: [] });
  if (mine !== undefined) assertEquals(check(mine.includes(":") ? `[${mine}]` : mine), undefined, mine);
  assertEquals(typeof check("192.0.2.99"), "string");
  const odd = hostChecker({
    listen: "::",
    names: [],
    origins: [],
    interfaces: () => ["garbage", "192.0.2.10"],
  });
  assertEquals(odd("192.0.2.10"), undefined);
});

Deno.test({
  name: "without leave to list the interfaces, a wildcard server still answers to loopback",
  permissions: { sys: false },
  fn() {
    const check = hostChecker({ listen: "0.0.0.0", names: [], origins: [] });
    assertEquals(check("127.0.0.1"), undefined);
    assertEquals(typeof check("192.0.2.99"), "string");
  },
});

Deno.test("origins: http(s) with a bare path only, normalised as browsers send them", () => {
  assertEquals(normalizeOrigin("*"), "*");
  assertEquals(normalizeOrigin("HTTPS://Chat.Example.COM:443"), "https://chat.example.com");
  assertEquals(normalizeOrigin("http://example.com:8080/"), "http://example.com:8080");
  assertEquals(normalizeOrigin("http://[::1]:80"), "http://[::1]");
  for (
    const bad of [
      "ftp://example.com",
      "ws://example.com",
      "http://example.com/path",
      "http://example.com/?q",
      "http://example.com/#x",
      "http://user@example.com",
      "example.com",
      "",
      "**",
    ]
  ) {
    assertEquals(normalizeOrigin(bad), undefined, bad);
  }
});

Deno.test("host names: lower case, no trailing dot, labels of 1-63 letters, digits and inner hyphens", () => {
  assertEquals(normalizeHostName(" Chat.Example. "), "chat.example");
  assertEquals(normalizeHostName("[FE80::1]"), "fe80::1");
  assertEquals(normalizeHostName("a-b.c0"), "a-b.c0");
  assertEquals(normalizeHostName("a".repeat(63)), "a".repeat(63));
  const long = Array.from({ length: 4 }, () => "a".repeat(63)).join(".");
  assertEquals(normalizeHostName(long.slice(0, 253)), long.slice(0, 253));
  for (
    const bad of [
      "",
      "-a",
      "a-",
      "a..b",
      "a_b",
      "a b",
      "é.example",
      "a".repeat(64),
      long.slice(0, 254),
      "[x]",
      "[10.0.0.1]",
      "[::g]",
      "[1::2::3]",
      "[::1",
      "x[::1]",
      "[::1]x",
    ]
  ) {
    assertEquals(normalizeHostName(bad), undefined, bad);
  }
});
