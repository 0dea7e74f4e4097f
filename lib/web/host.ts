/**
 * Which `Host` a WebSocket upgrade may name: the defence against DNS rebinding.
 *
 * A page on `evil.example` whose name the attacker later points at this server's address runs in
 * the victim's browser as `evil.example`, and its requests say `Host: evil.example` and `Origin:
 * http://evil.example` alike. The two agree, so comparing them proves nothing; what proves the
 * request was meant for this server is a `Host` that names it. So an upgrade is accepted only when
 * its `Host` is:
 * - an address the server listens on; bound to a wildcard (`0.0.0.0`, `::`), every address of the
 *   machine's interfaces counts, loopback included;
 * - `localhost` (or a name under `.localhost`), when the server listens on loopback or a wildcard:
 *   browsers resolve those names themselves, to loopback, so no DNS answer can rebind them;
 * - the listen host itself, when it was given as a name;
 * - a name given with `--web-host`, or the host of an origin given with `--web-origin`.
 *
 * The port is not compared: a proxy in front may publish the page on another one.
 */

import { isLoopback, parseIp } from "../util/ip.ts";
import { normalizeHostName } from "./origin.ts";

/** Options for {@linkcode hostChecker}. */
export interface HostOptions {
  /** The address (or name) the web listener is bound to. */
  listen: string;
  /** Names from `--web-host`, lower-cased. */
  names: readonly string[];
  /** Origins from `--web-origin`, normalised (`*` is not a host and adds none). */
  origins: readonly string[];
  /** The machine's interface addresses, asked when bound to a wildcard. @default {Deno.networkInterfaces} */
  interfaces?: () => readonly string[];
}

/** The host of a `Host` header (`name:port`, `[::1]:port`), normalised; `undefined` when malformed. */
export function hostOfHeader(header: string): string | undefined {
  const match = /^(\[[^\]]*\]|[^:]*)(?::\d{1,5})?$/.exec(header.trim());
  return match === null ? undefined : normalizeHostName(match[1]);
}

function sameAddress(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

function machineAddresses(): string[] {
  try {
    return Deno.networkInterfaces().map((info) => info.address);
  } catch {
    // Not allowed to ask (a library embedding with fewer permissions): loopback still counts.
    return [];
  }
}

/**
 * A check for the `Host` of an upgrade: resolves to why it is refused, or `undefined` when the
 * request names this server.
 */
export function hostChecker(options: HostOptions): (header: string | undefined) => string | undefined {
  // A listen host that no Host header could spell (neither a name nor an address) adds no name.
  const listen = normalizeHostName(options.listen) ?? "";
  const listenBytes = parseIp(listen);
  const wildcard = listen === "0.0.0.0" || listen === "::";
  const loopbackToo = wildcard || isLoopback(listen);
  const names = new Set<string>(options.names);
  for (const origin of options.origins) {
    if (origin !== "*") names.add(new URL(origin).hostname.replace(/^\[(.*)\]$/, "$1"));
  }
  if (listenBytes === undefined && listen !== "") names.add(listen);
  const interfaces = options.interfaces ?? machineAddresses;

  function isOurs(host: string): boolean {
    if (names.has(host)) return true;
    if (host === "localhost" || host.endsWith(".localhost")) return loopbackToo;
    const bytes = parseIp(host);
    if (bytes === undefined) return false;
    if (!wildcard) return listenBytes !== undefined && sameAddress(bytes, listenBytes);
    if (isLoopback(host)) return true;
    return interfaces().some((address) => {
      const mine = parseIp(address);
      return mine !== undefined && sameAddress(bytes, mine);
    });
  }

  return (header) => {
    if (header === undefined) return "a request without Host";
    const host = hostOfHeader(header);
    if (host === undefined) return `a malformed Host ${JSON.stringify(header)}`;
    if (isOurs(host)) return undefined;
    return `Host ${JSON.stringify(header)} does not name this server (name it with --web-host)`;
  };
}
