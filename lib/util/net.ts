/**
 * Socket facts shared by the server and the client: how to write an address, which errors only
 * mean "the other side went away", and how to say what went wrong in plain words.
 */

/** `127.0.0.1:2005` or `[::1]:2005`. */
export function formatAddress(hostname: string, port: number): string {
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}

/** A socket address as people read it: `127.0.0.1:2005`, `[::1]:2005`, or a Unix socket's path. */
export function formatAddr(addr: Deno.Addr): string {
  if ("hostname" in addr) return formatAddress(addr.hostname, addr.port);
  return "path" in addr && addr.path ? addr.path : addr.transport;
}

/** The IP address of a peer, for limits and allow lists; `undefined` for a Unix socket. */
export function ipOf(addr: Deno.Addr): string | undefined {
  return "hostname" in addr ? addr.hostname : undefined;
}

/** Errors that end a connection in the ordinary course of things: the peer left or we closed it. */
export function isDisconnect(error: unknown): boolean {
  return error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.BrokenPipe ||
    error instanceof Deno.errors.NotConnected ||
    error instanceof Deno.errors.UnexpectedEof ||
    error instanceof Deno.errors.BadResource ||
    error instanceof Deno.errors.Interrupted;
}

const PHRASES: [new (...args: never[]) => Error, string][] = [
  [Deno.errors.AddrInUse, "address already in use"],
  [Deno.errors.AddrNotAvailable, "address not available on this machine"],
  [Deno.errors.ConnectionRefused, "connection refused"],
  [Deno.errors.ConnectionReset, "connection reset by peer"],
  [Deno.errors.ConnectionAborted, "connection aborted"],
  [Deno.errors.BrokenPipe, "connection closed by peer"],
  [Deno.errors.TimedOut, "timed out"],
  [Deno.errors.PermissionDenied, "permission denied"],
  [Deno.errors.NotFound, "no such file or directory"],
  [Deno.errors.NetworkUnreachable, "network unreachable"],
];

/** A short lower-case phrase for a network error, e.g. `address already in use`. */
export function describeNetError(error: unknown): string {
  if (error instanceof Deno.errors.NotCapable) {
    // "Requires read access to "/x", run again with the --allow-read flag"
    const match = /^Requires (.*?), run again with the (--allow-\w+) flag/.exec(error.message);
    return match ? `not permitted: this program lacks ${match[1]} (${match[2]})` : "not permitted";
  }
  for (const [type, phrase] of PHRASES) if (error instanceof type) return phrase;
  if (error instanceof DOMException && error.name === "TimeoutError") return "timed out";
  const message = error instanceof Error ? error.message : String(error);
  // Deno appends the OS detail "(os error 24)"; the sentence reads better without it.
  return message.replace(/\s*\(os error \d+\).*$/, "").replace(/^\w/, (c) => c.toLowerCase());
}
