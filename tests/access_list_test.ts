import { assertEquals, assertMatch, throws } from "./support/assert.ts";
import { AccessEntryError, AccessList, listFileEntries } from "../lib/server/access_list.ts";
import { parseIp } from "../lib/util/ip.ts";

Deno.test("IP addresses parse to 4 or 16 bytes; mapped IPv4 is IPv4; nonsense is not an address", () => {
  assertEquals(parseIp("10.1.2.3"), Uint8Array.of(10, 1, 2, 3));
  assertEquals(parseIp("::ffff:10.1.2.3"), Uint8Array.of(10, 1, 2, 3));
  assertEquals(parseIp("[::1]")?.at(-1), 1);
  assertEquals(parseIp("fe80::1%eth0")?.length, 16);
  assertEquals(parseIp("2001:db8::1")?.slice(0, 4), Uint8Array.of(0x20, 0x01, 0x0d, 0xb8));
  for (const bad of ["10.1.2", "10.1.2.256", "01.2.3.4", "1::2::3", "gg::1", "example.com", ""]) {
    assertEquals(parseIp(bad), undefined, bad);
  }
});

Deno.test("an allow list admits its blocks only; a deny list refuses its blocks; deny wins", () => {
  const list = new AccessList({ allow: ["10.0.0.0/8", "192.168.1.7", "fd00::/8"], deny: ["10.9.0.0/16"] });
  assertEquals(list.refuses("10.1.2.3"), undefined);
  assertEquals(list.refuses("192.168.1.7"), undefined);
  assertEquals(list.refuses("192.168.1.8"), "not allowed");
  assertEquals(list.refuses("10.9.1.1"), "denied");
  assertEquals(list.refuses("fd12::1"), undefined);
  assertEquals(list.refuses("fe80::1"), "not allowed");
  assertEquals(list.refuses(undefined), undefined, "a Unix-socket peer has no address");
});

Deno.test("IPv4-mapped peers match IPv4 entries; IPv6 peers only IPv6 ones", () => {
  const list = new AccessList({ deny: ["127.0.0.1", "::1"] });
  assertEquals(list.refuses("::ffff:127.0.0.1"), "denied");
  assertEquals(list.refuses("::1"), "denied");
  assertEquals(list.refuses("127.0.0.2"), undefined);
  assertEquals(new AccessList({ allow: ["127.0.0.0/8"] }).refuses("::1"), "not allowed");
});

Deno.test("entries may be comma-separated; prefixes cut at any bit", () => {
  const list = new AccessList({ allow: ["10.0.0.0/9, 172.16.0.0/12", "2001:db8::/33"] });
  assertEquals(list.refuses("10.127.255.255"), undefined);
  assertEquals(list.refuses("10.128.0.0"), "not allowed");
  assertEquals(list.refuses("172.31.0.1"), undefined);
  assertEquals(list.refuses("172.32.0.1"), "not allowed");
  assertEquals(list.refuses("2001:db8:7fff::1"), undefined);
  assertEquals(list.refuses("2001:db8:8000::1"), "not allowed");
});

Deno.test("a bad entry is named", () => {
  for (const entry of ["10.0.0.0/33", "::/129", "example.com", "10.0.0.1/8/8", "1.2.3"]) {
    const error = throws(() => new AccessList({ deny: [entry] }), AccessEntryError);
    assertMatch(
      error.message,
      new RegExp(`^"${entry.replace(/[./]/g, "\\$&")}" is not an IP address or a CIDR block`),
    );
  }
});

Deno.test("list files: one entry a line, # comments, blank lines", () => {
  assertEquals(listFileEntries("# office\n10.0.0.0/8  # lan\n\n  ::1\n#192.0.2.1\n"), ["10.0.0.0/8", "::1"]);
});

Deno.test("IPv6 forms that carry an IPv4 address are folded to it, in entries and peers alike", () => {
  assertEquals(parseIp("::10.0.0.1"), Uint8Array.of(10, 0, 0, 1), "IPv4-compatible");
  assertEquals(parseIp("64:ff9b::10.0.0.1"), Uint8Array.of(10, 0, 0, 1), "NAT64");
  assertEquals(parseIp("::1")?.length, 16, "IPv6 loopback stays IPv6");
  assertEquals(parseIp("::")?.length, 16, "the unspecified address stays IPv6");
  const deny = new AccessList({ deny: ["10.0.0.0/8"] });
  for (const peer of ["10.0.0.1", "::ffff:10.0.0.1", "::10.0.0.1", "64:ff9b::10.0.0.1", "64:ff9b::a00:1"]) {
    assertEquals(deny.refuses(peer), "denied", peer);
  }
  assertEquals(deny.refuses("::1"), undefined);
  const mapped = new AccessList({ deny: ["::ffff:10.0.0.0/104", "64:ff9b::192.168.0.0/112"] });
  assertEquals(mapped.refuses("10.200.0.1"), "denied", "a mapped CIDR is the IPv4 block it maps");
  assertEquals(mapped.refuses("11.0.0.1"), undefined);
  assertEquals(mapped.refuses("192.168.3.4"), "denied");
  assertEquals(mapped.refuses("192.169.0.1"), undefined);
  // A prefix shorter than the 96 bits of the form would reach past the IPv4 address it carries.
  throws(() => new AccessList({ deny: ["::ffff:10.0.0.0/95"] }), AccessEntryError);
});
