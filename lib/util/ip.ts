/**
 * IP addresses as bytes: 4 for IPv4, 16 for IPv6. An IPv6 address that only carries an IPv4 one is
 * that IPv4 address, so that one rule about `10.0.0.0/8` covers every way of writing it:
 * - IPv4-mapped, `::ffff:10.0.0.1`, as a dual-stack listener reports an IPv4 peer;
 * - IPv4-compatible, `::10.0.0.1` (deprecated, but still parsed by stacks), except `::` and `::1`;
 * - NAT64's well-known prefix, `64:ff9b::10.0.0.1`, as a NAT64 gateway presents an IPv4 host.
 */

/** The 96-bit prefixes whose last 32 bits are an IPv4 address. */
const IPV4_PREFIXES = [
  [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff],
  [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
  [0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0],
];

/** Whether the IPv6 address `bytes` carries an IPv4 one in its last 32 bits (see above). */
function carriesIpv4(bytes: Uint8Array): boolean {
  const prefix = IPV4_PREFIXES.find((prefix) => prefix.every((byte, i) => bytes[i] === byte));
  if (prefix === undefined) return false;
  // `::` and `::1` are IPv6's own unspecified and loopback addresses, not IPv4-compatible ones.
  return prefix !== IPV4_PREFIXES[1] || bytes[12] !== 0 || bytes[13] !== 0 || bytes[14] !== 0 ||
    bytes[15] > 1;
}

function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((part) => /^(0|[1-9]\d{0,2})$/.test(part) && Number(part) <= 255)) {
    return undefined;
  }
  return Uint8Array.from(parts, Number);
}

function parseIpv6(text: string): Uint8Array | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  // `last`: this half ends the address, so it may end with an IPv4 address.
  const groups = (half: string, last: boolean): number[] | undefined => {
    if (half === "") return [];
    const words: number[] = [];
    const parts = half.split(":");
    for (const [i, part] of parts.entries()) {
      if (last && i === parts.length - 1 && part.includes(".")) {
        // A trailing IPv4 address: ::ffff:127.0.0.1
        const v4 = parseIpv4(part);
        if (v4 === undefined) return undefined;
        words.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(part)) {
        words.push(parseInt(part, 16));
      } else {
        return undefined;
      }
    }
    return words;
  };
  const head = groups(halves[0], halves.length === 1);
  const tail = halves.length === 2 ? groups(halves[1], true) : [];
  if (head === undefined || tail === undefined) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const words = [...head, ...new Array<number>(missing).fill(0), ...tail];
  return Uint8Array.from(words.flatMap((word) => [word >> 8, word & 0xff]));
}

/**
 * The bytes of an IP address written in text, or `undefined` if it is not one. A zone (`%eth0`)
 * and brackets are ignored; an IPv6 address that carries an IPv4 one becomes that IPv4 address.
 */
export function parseIp(text: string): Uint8Array | undefined {
  const bare = text.replace(/^\[(.*)\]$/, "$1").replace(/%.*$/, "");
  const bytes = bare.includes(":") ? parseIpv6(bare) : parseIpv4(bare);
  if (bytes?.length === 16 && carriesIpv4(bytes)) return bytes.subarray(12);
  return bytes;
}

/** Whether `host` is a loopback address (127.0.0.0/8, ::1) or the name `localhost`. */
export function isLoopback(host: string): boolean {
  if (host.toLowerCase() === "localhost") return true;
  const bytes = parseIp(host);
  if (bytes === undefined) return false;
  return bytes.length === 4 ? bytes[0] === 127 : bytes.every((byte, i) => byte === (i === 15 ? 1 : 0));
}
