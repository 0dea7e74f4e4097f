import { assert, assertEquals, assertMatch, throws } from "../support/assert.ts";
import { AccessEntryError, AccessList, listFileEntries } from "../../lib/server/access_list.ts";
import { parseIp } from "../../lib/util/ip.ts";

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

Deno.test("a prefix is 0 to the written form's bits in plain decimal; an IPv4 block in IPv6 form may be all of IPv4", () => {
  for (
    const entry of [
      "10.0.0.0/",
      "10.0.0.0/+8",
      "10.0.0.0/ 8",
      "10.0.0.0/8 x",
      "10.0.0.0/x8",
      "::/1280",
      "::/0128",
    ]
  ) {
    throws(() => new AccessList({ deny: [entry] }), AccessEntryError);
  }
  const error = throws(() => new AccessList({ deny: ["nope"] }), AccessEntryError);
  assertEquals([error.name, error.entry], ["AccessEntryError", "nope"]);
  // 08 is 8: a leading zero is not octal here.
  assertEquals(new AccessList({ deny: ["10.0.0.0/08"] }).refuses("10.200.0.1"), "denied");
  assertEquals(new AccessList({ deny: ["10.0.0.0/0"] }).refuses("192.0.2.1"), "denied");
  assertEquals(new AccessList({ deny: ["::/128"] }).refuses("::"), "denied");
  assertEquals(new AccessList({ deny: ["::/128"] }).refuses("::1"), undefined);
  // ::ffff:0.0.0.0/96 is every IPv4 address, and no IPv6 one.
  const all = new AccessList({ deny: ["::ffff:0.0.0.0/96"] });
  assertEquals(all.refuses("203.0.113.9"), "denied");
  assertEquals(all.refuses("2001:db8::1"), undefined);
});

Deno.test("an IPv4 block never matches an IPv6 peer whose first bytes look the same, nor the reverse", () => {
  // a00::1 begins with the bytes 10.0, and 10.0.0.1 with the bytes of a00::.
  assertEquals(new AccessList({ deny: ["10.0.0.0/8"] }).refuses("a00::1"), undefined);
  assertEquals(new AccessList({ deny: ["a00::/8"] }).refuses("10.0.0.1"), undefined);
  assertEquals(new AccessList({ deny: ["a00::/8"] }).refuses("a00::1"), "denied");
});

Deno.test("whole bytes and the bits of the last partial byte are both compared", () => {
  const list = new AccessList({ deny: ["10.1.2.0/23", "192.0.2.64/26", "10.9.9.9/32"] });
  for (const peer of ["10.1.2.255", "10.1.3.0", "192.0.2.64", "192.0.2.127", "10.9.9.9"]) {
    assertEquals(list.refuses(peer), "denied", peer);
  }
  for (
    const peer of [
      "10.1.4.0",
      "10.1.1.255",
      "11.1.2.0",
      "192.0.2.63",
      "192.0.2.128",
      "192.1.2.64",
      "10.9.9.8",
    ]
  ) {
    assertEquals(list.refuses(peer), undefined, peer);
  }
});

Deno.test("blank entries and spaces in a list are nothing; an empty list restricts nothing", () => {
  const blank = new AccessList({ allow: ["", " , ,", "  "], deny: [","] });
  assert(blank.empty);
  assertEquals(blank.refuses("192.0.2.1"), undefined, "no entries: everyone may connect");
  assert(new AccessList({}).empty);
  assert(!new AccessList({ allow: ["10.0.0.1"] }).empty);
  assert(!new AccessList({ deny: ["10.0.0.1"] }).empty);
  const spaced = new AccessList({ allow: [" 10.0.0.1 ,  10.0.0.2"] });
  assertEquals(spaced.refuses("10.0.0.2"), undefined);
  assertEquals(spaced.refuses("10.0.0.3"), "not allowed");
});

Deno.test("a peer whose address cannot be read is refused by any list, and passes no list", () => {
  assertEquals(new AccessList({ allow: ["10.0.0.0/8"] }).refuses("not-an-address"), "not allowed");
  assertEquals(new AccessList({ deny: ["192.0.2.1"] }).refuses("not-an-address"), "not allowed");
  assertEquals(new AccessList({}).refuses("not-an-address"), undefined);
});
