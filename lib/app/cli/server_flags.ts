/**
 * `parley-server`'s flags: the table ({@linkcode SERVER_FLAGS}), what depends on several flags
 * ({@linkcode parseServerArgs}), and `--help`. {@linkcode ServerConfig} is derived from both.
 */

import { parseRoom } from "../../protocol/rooms.ts";
import { checkRedisUrl, type RedisAddress } from "../../redis/url.ts";
import { AccessEntryError, checkedEntries } from "../../server/access_list.ts";
import { MODE_NAMES } from "../../server/modes/mode.ts";
import type { RateLimit } from "../../server/rate.ts";
import { normalizeHostName, normalizeOrigin } from "../../web/origin.ts";
import {
  type Command,
  type Convert,
  formatHelp,
  many,
  one,
  parseFlags,
  toggle,
  UsageError,
  type Values,
} from "./flags.ts";
import {
  bytes,
  choice,
  commaList,
  count,
  host,
  hostPort,
  octal,
  port,
  seconds,
  text,
  texts,
} from "./values.ts";

/** Addresses and CIDR blocks, comma-separated. */
const accessEntries: Convert<string[]> = (raw, flag) => {
  try {
    return checkedEntries(raw);
  } catch (error) {
    if (error instanceof AccessEntryError) throw new UsageError(`${flag}: ${error.message}`);
    throw error;
  }
};

/** A redis://, rediss:// or redis+sentinel:// URL, in its parts. */
/** A room's name: `#` then a nickname; the `#` may be left out. */
const roomName: Convert<string> = (raw, flag) => {
  const parsed = parseRoom(raw.startsWith("#") ? raw : `#${raw}`);
  if ("error" in parsed) {
    throw new UsageError(`${flag} must be a room's name, got ${JSON.stringify(raw)}: ${parsed.error}`);
  }
  return parsed.room;
};

const redisUrl: Convert<RedisAddress> = (raw, flag) => {
  const address = checkRedisUrl(raw);
  // The URL may hold a password: say what is wrong with it, not what it is.
  if (typeof address === "string") throw new UsageError(`${flag} ${address}`);
  return address;
};

/** `LINES_PER_S[:BURST]`: `20:50`, `5` (a burst of 2.5 seconds' worth), `0` for no limit. */
const rateLimit: Convert<RateLimit | undefined> = (raw, flag) => {
  const match = /^(\d{1,6}(?:\.\d{1,3})?)(?::(\d{1,6}))?$/.exec(raw);
  const perSecond = Number(match?.[1]);
  if (match === null || (perSecond > 0 && perSecond < 0.1)) {
    throw new UsageError(`${flag} must be LINES_PER_S[:BURST], e.g. 20:50 or 0 for no limit, got "${raw}"`);
  }
  if (perSecond === 0) return undefined;
  const burst = match[2] === undefined ? Math.max(1, Math.round(perSecond * 2.5)) : Number(match[2]);
  if (burst < 1) throw new UsageError(`${flag}: a burst is at least 1 line, got "${raw}"`);
  return { perSecond, burst };
};

/** A page's origin (`https://chat.example.com`), normalized, or `*`. */
const origin: Convert<string> = (raw, flag) => {
  const normalized = normalizeOrigin(raw);
  if (normalized === undefined) {
    throw new UsageError(
      `${flag} must be an origin such as https://chat.example.com or *, got ${JSON.stringify(raw)}`,
    );
  }
  return normalized;
};

/** A host name, lower-cased. */
const hostName: Convert<string> = (raw, flag) => {
  const normalized = normalizeHostName(raw);
  if (normalized === undefined) {
    throw new UsageError(`${flag} must be a host name such as chat.example.com, got ${JSON.stringify(raw)}`);
  }
  return normalized;
};

/** Every flag of `parley-server`, in `--help`'s order. */
export const SERVER_FLAGS = {
  host: one(host, {
    value: "HOST",
    default: "127.0.0.1",
    help: "address to listen on (0.0.0.0 or :: for every interface)",
  }),
  port: one(port, {
    short: "p",
    value: "PORT",
    default: 2005,
    help: "port to listen on; 0 picks a free one (the log says which)",
  }),
  mode: one(choice(MODE_NAMES), {
    value: "MODE",
    default: "console",
    help: "console: you answer clients; echo: lines come back; chat: a room",
  }),
  maxLine: one(bytes, {
    value: "BYTES",
    default: 65536,
    help: "longest line accepted; a longer one gets ERR and a close",
  }),
  maxQueue: one(bytes, {
    value: "BYTES",
    default: 1048576,
    help: "bytes waiting for a client that stopped reading before it is dropped (talkers wait from half)",
  }),
  drainTimeout: one(seconds, {
    value: "SECONDS",
    default: 5,
    help: "how long shutdown may spend flushing queued lines",
  }),
  workers: one(count(1), {
    value: "N",
    default: 1,
    help: "isolates serving the port at once, one thread each (Linux; echo and chat modes)",
  }),
  backlog: one(count(1), {
    value: "N",
    default: 4096,
    help: "connections the kernel may queue before they are accepted (capped by the OS)",
  }),
  reusePort: toggle(
    "share the port with another Parley started with it too, for an upgrade without a gap (Linux)",
  ),
  maxConns: one(count(1), {
    value: "N",
    default: 10000,
    help: "most connections at once; more get ERR server full",
  }),
  maxConnsPerIp: one(count(0), {
    value: "N",
    default: 0,
    help: "most connections at once from one address (0: no limit)",
  }),
  idleTimeout: one(seconds, {
    value: "SECONDS",
    default: 0,
    help: "close a client that has sent nothing for this long (0: never)",
  }),
  lineTimeout: one(seconds, {
    value: "SECONDS",
    default: 30,
    help: "close a client that takes longer than this to finish a line it started (0: never)",
  }),
  log: one(choice(["text", "json"]), {
    value: "FORMAT",
    default: "text",
    help: "event log format on stderr",
  }),
  logLevel: one(choice(["debug", "info", "warn", "error"]), {
    value: "LEVEL",
    default: "info",
    help: "least severe event logged: debug adds quiet details, warn keeps warnings and errors only",
  }),
  quiet: toggle("do not log each connect and disconnect"),
  tls: toggle(
    "serve TLS; without --tls-cert, with a new self-signed certificate (its fingerprint is logged)",
  ),
  tlsCert: one(text, { value: "FILE", help: "certificate chain (PEM) to serve TLS with; needs --tls-key" }),
  tlsKey: one(text, { value: "FILE", help: "private key (PEM) of --tls-cert" }),
  handshakeTimeout: one(seconds, {
    value: "SECONDS",
    default: 10,
    help: "close a connection that has not finished its TLS handshake by then",
  }),
  allow: many(accessEntries, {
    value: "LIST",
    help: "only these addresses and CIDR blocks may connect (comma-separated; repeatable)",
  }),
  deny: many(accessEntries, {
    value: "LIST",
    help: "these addresses and CIDR blocks may not connect (comma-separated; repeatable)",
  }),
  allowFile: many(texts, {
    value: "FILE",
    help: "--allow entries from a file: one per line, # comments",
  }),
  denyFile: many(texts, { value: "FILE", help: "--deny entries from a file" }),
  unix: one(text, { value: "PATH", help: "listen on a Unix socket at PATH instead of TCP (Linux, macOS)" }),
  unixMode: one(octal, {
    value: "MODE",
    default: 0o600,
    show: (mode) => mode.toString(8),
    help: "permissions of the --unix socket file",
  }),
  web: one(hostPort(8080), {
    value: "[HOST:]PORT",
    help: "also serve a web page and WebSockets on this port: browsers join like any client (HOST: --host)",
  }),
  webOrigin: many(commaList(origin), {
    value: "ORIGIN",
    help: "with --web: pages from this origin may connect too, e.g. https://chat.example.com (* for any)",
  }),
  webHost: many(commaList(hostName), {
    value: "NAME",
    help:
      "with --web: a name browsers may reach this server by (Host), besides its addresses and --web-origin's",
  }),
  history: one(count(0), {
    value: "N",
    default: 0,
    help: "chat: send each newcomer the last N lines said, marked as history (0: none)",
  }),
  redis: one(redisUrl, {
    value: "URL",
    help: "chat: share the chat with every server on this Redis (redis://[user:pass@]host:port[/db]; " +
      "rediss:// for TLS; redis+sentinel://HOSTS/PRIMARY; redis+cluster://HOST:PORT[,HOST:PORT...])",
  }),
  redisCa: one(text, {
    value: "FILE",
    help: "with a rediss:// --redis: also trust this certificate (PEM), e.g. a private CA's",
  }),
  room: one(roomName, {
    value: "NAME",
    default: "#parley",
    help:
      "chat: the room every client starts in (# then 1-32 letters, digits, - or _; the # may be left out)",
  }),
  resumeWindow: one(seconds, {
    value: "SECONDS",
    default: 120,
    help: "chat: a client with a session (/session) that drops may come back within this long as itself, " +
      "with what it missed (0: no sessions)",
  }),
  resumeBuffer: one(bytes, {
    value: "BYTES",
    default: 1048576,
    help: "chat: the lines each room keeps for clients that come back",
  }),
  maxRooms: one(count(1), {
    value: "N",
    default: 1000,
    help: "chat: most rooms at once (across every server that shares them); /join of one more gets ERR",
  }),
  rate: one(rateLimit, {
    value: "LINES_PER_S[:BURST]",
    default: { perSecond: 20, burst: 50 },
    show: (rate) => rate === undefined ? "0" : `${rate.perSecond}:${rate.burst}`,
    help:
      "chat: each client may send BURST lines at once, then this many a second; faster ones wait (0: no limit)",
  }),
  rateKick: one(seconds, {
    value: "SECONDS",
    default: 0,
    help: "chat: close a client that stays over --rate this long (0: never)",
  }),
  transcript: one(text, {
    value: "FILE",
    help: "chat: append every line said here to FILE, as JSON lines (SIGHUP reopens it, for logrotate)",
  }),
  transcriptPrivate: one(choice(["yes", "no"]), {
    value: "YES/NO",
    default: "yes",
    help: "with --transcript: whether private messages (/msg) are kept too",
  }),
  admin: one(hostPort(9090), {
    value: "[HOST:]PORT",
    help: "serve /healthz, /readyz and /metrics (Prometheus) on this port (HOST: 127.0.0.1)",
  }),
  readyNeedsRedis: toggle("with --admin and --redis: /readyz says 503 while the link to Redis is down"),
};

/** Where something listens, with its host filled in. */
export interface Address {
  host: string;
  port: number;
}

/** Settings of `parley-server`: the table's values, with what depends on several flags settled. */
export type ServerConfig = ReturnType<typeof settle>;

/** Most `--workers`: far beyond any core count that helps, low enough to catch a typo. */
const MAX_WORKERS = 256;
/** Most `--history`: enough to scroll back through, little enough to send every newcomer. */
const MAX_HISTORY = 100000;

/**
 * Parses `parley-server` arguments for a server on `os`. Throws {@linkcode UsageError}.
 *
 * Several workers need the kernel to spread connections over listeners that share a port, which
 * only Linux's SO_REUSEPORT does; and console mode has one operator, who must see every client.
 */
export function parseServerArgs(
  args: string[],
  os: typeof Deno.build.os = Deno.build.os,
): Command<ServerConfig> {
  const command = parseFlags(args, SERVER_FLAGS);
  return command.kind === "run" ? { kind: "run", config: settle(command.config, os) } : command;
}

/** Checks what depends on several flags, and fills in what one flag implies for another. */
function settle(flags: Values<typeof SERVER_FLAGS>, os: typeof Deno.build.os) {
  if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) {
    throw new UsageError("--tls-cert and --tls-key go together: a certificate and its private key");
  }
  const tls = flags.tls || flags.tlsCert !== undefined;
  if (flags.reusePort && os !== "linux") {
    throw new UsageError(`--reuse-port needs Linux (SO_REUSEPORT spreads connections there), not ${os}`);
  }
  if (flags.unix !== undefined) {
    if (os === "windows") throw new UsageError("--unix needs Linux or macOS");
    if (flags.reusePort) throw new UsageError("--reuse-port works over TCP only, not with --unix");
    if (tls) throw new UsageError("--tls works over TCP only, not with --unix");
    if (flags.workers > 1) {
      throw new UsageError("--workers above 1 needs TCP: workers share a port, not a socket file");
    }
  }
  checkRoom(flags);
  const web = checkWeb(flags);
  const admin = checkAdmin(flags);
  if (flags.workers > 1) {
    const { workers, mode } = flags;
    if (workers > MAX_WORKERS) {
      throw new UsageError(`--workers must be at most ${MAX_WORKERS}, got ${workers}`);
    }
    if (os !== "linux") throw new UsageError(`--workers above 1 needs Linux (SO_REUSEPORT), not ${os}`);
    if (mode === "console") {
      throw new UsageError("--workers above 1 needs --mode echo or chat: console mode has one operator");
    }
  }
  // Flood control is the chat's: an echo or console client talks only to itself or the operator.
  const chat = flags.mode === "chat";
  if (flags.rateKick > 0 && flags.rate === undefined) throw new UsageError("--rate-kick needs a --rate");
  if (flags.transcript !== undefined && !chat) throw new UsageError("--transcript needs --mode chat");
  return {
    ...flags,
    tls,
    web,
    admin,
    rate: chat ? flags.rate : undefined,
    rateKick: chat ? flags.rateKick : 0,
  };
}

/** Checks `--redis`, `--redis-ca`, `--room`, `--max-rooms` and `--history` together. */
function checkRoom(flags: Values<typeof SERVER_FLAGS>): void {
  if (flags.history > MAX_HISTORY) {
    throw new UsageError(`--history must be at most ${MAX_HISTORY}, got ${flags.history}`);
  }
  if (flags.history > 0 && flags.mode !== "chat") throw new UsageError("--history needs --mode chat");
  if (flags.mode !== "chat") {
    if (flags.room !== "#parley") throw new UsageError("--room needs --mode chat");
    if (flags.maxRooms !== 1000) throw new UsageError("--max-rooms needs --mode chat");
    if (flags.resumeWindow !== 120) throw new UsageError("--resume-window needs --mode chat");
    if (flags.resumeBuffer !== 1048576) throw new UsageError("--resume-buffer needs --mode chat");
  }
  if (flags.redis === undefined) {
    if (flags.redisCa !== undefined) throw new UsageError("--redis-ca needs a rediss:// --redis");
    return;
  }
  if (flags.mode !== "chat") throw new UsageError("--redis needs --mode chat: only a chat room is shared");
  if (flags.redisCa !== undefined && !flags.redis.tls) {
    throw new UsageError("--redis-ca needs a rediss:// --redis: redis:// is not encrypted");
  }
}

/** `--web` with its host (`--host` when left out), checked against `--port`; its companions need it. */
function checkWeb(flags: Values<typeof SERVER_FLAGS>): Address | undefined {
  if (flags.web === undefined) {
    if (flags.webOrigin.length > 0) throw new UsageError("--web-origin needs --web");
    if (flags.webHost.length > 0) throw new UsageError("--web-host needs --web");
    return undefined;
  }
  const { port } = flags.web;
  const host = flags.web.host ?? flags.host;
  // One port cannot serve both, on the same address or where either is every address.
  const wildcard = (address: string) => address === "0.0.0.0" || address === "::";
  const overlaps = host === flags.host || wildcard(host) || wildcard(flags.host);
  if (flags.unix === undefined && port !== 0 && port === flags.port && overlaps) {
    throw new UsageError(`--web and --port must be different ports, both are ${port}`);
  }
  return { host, port };
}

/** `--admin` with its host (loopback when left out); `--ready-needs-redis` needs it and `--redis`. */
function checkAdmin(flags: Values<typeof SERVER_FLAGS>): Address | undefined {
  if (flags.admin === undefined) {
    if (flags.readyNeedsRedis) throw new UsageError("--ready-needs-redis needs --admin");
    return undefined;
  }
  if (flags.readyNeedsRedis && flags.redis === undefined) {
    throw new UsageError("--ready-needs-redis needs --redis");
  }
  return { host: flags.admin.host ?? "127.0.0.1", port: flags.admin.port };
}

/** `parley-server --help`. */
export function serverHelp(): string {
  return formatHelp("parley-server", "a concurrent multi-client TCP line server", SERVER_FLAGS) +
    "\n\nIn console mode, type /help for the operator's commands.";
}
