/**
 * Origins as `--web-origin` takes them and browsers send them, and host names as `--web-host` takes
 * them. Pure, so that the command line can check them without loading the web side.
 */

import { parseIp } from "../util/ip.ts";

/**
 * `origin` as browsers send it (scheme and host lower-cased, no default port, no trailing slash),
 * `*` as it is, or `undefined` when it is not an http(s) origin.
 */
export function normalizeOrigin(origin: string): string | undefined {
  if (origin === "*") return origin;
  try {
    const url = new URL(origin);
    const bare = url.pathname === "/" && url.search === "" && url.hash === "" && url.username === "";
    if ((url.protocol !== "http:" && url.protocol !== "https:") || !bare) return undefined;
    return url.origin;
  } catch {
    return undefined;
  }
}

/**
 * `text` as a host name to compare (lower case, no trailing dot, IPv6 without its brackets), or
 * `undefined`. Brackets hold an IPv6 address and nothing else (RFC 3986's IP-literal).
 */
export function normalizeHostName(text: string): string | undefined {
  const host = text.trim().toLowerCase();
  const literal = /^\[(.*)\]$/.exec(host)?.[1];
  if (literal !== undefined) {
    return literal.includes(":") && parseIp(literal) !== undefined ? literal : undefined;
  }
  if (parseIp(host) !== undefined) return host;
  const name = host.replace(/\.$/, "");
  const label = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
  return name.length <= 253 && name.split(".").every((part) => label.test(part)) ? name : undefined;
}
