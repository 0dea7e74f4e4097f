/**
 * Command-line flags of both programs: one table per program drives parsing, validation, defaults
 * and `--help`, so the three can never disagree.
 *
 * Pure: parsing returns a config or throws {@linkcode UsageError}; the entry points decide what to
 * print and which exit code to use.
 */

import { parseArgs } from "node:util";
import denoConfig from "../../deno.json" with { type: "json" };
import { AccessEntryError, AccessList } from "../server/access_list.ts";
import type { LogFormat } from "../log.ts";
import { formatFingerprint, normalizeFingerprint } from "../transport/certificate.ts";
import { MODE_NAMES, type ModeName } from "../server/modes/mode.ts";
import { checkRedisUrl, type RedisAddress, ROOM_NAME } from "../redis/url.ts";
import { normalizeHostName, normalizeOrigin } from "../web/origin.ts";

/** The version in `deno.json`, embedded when compiled. */
export const VERSION: string = denoConfig.version;

/** Bad command-line input; its message is one sentence naming the flag. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

type Kind = "text" | "host" | "port" | "bytes" | "count" | "seconds" | "flag" | "choice" | "octal";

interface FlagSpec {
  name: string;
  /** A one-letter alias, as ncat users type it: `-p 2005`. */
  short?: string;
  /** Config property, when not the camel-cased name. */
  key?: string;
  kind: Kind;
  /** Placeholder in --help, e.g. `HOST`. */
  value?: string;
  default?: string | number | boolean;
  choices?: readonly string[];
  multiple?: boolean;
  /** Smallest value a `count` may take. @default {0} */
  min?: number;
  help: string;
}

const COMMON: FlagSpec[] = [
  { name: "host", kind: "host", value: "HOST", default: "127.0.0.1", help: "address" },
  { name: "port", short: "p", kind: "port", value: "PORT", default: 2005, help: "TCP port" },
];

const SERVER_FLAGS: FlagSpec[] = [
  { ...COMMON[0], help: "address to listen on (0.0.0.0 or :: for every interface)" },
  { ...COMMON[1], help: "port to listen on; 0 picks a free one (the log says which)" },
  {
    name: "mode",
    kind: "choice",
    value: "MODE",
    choices: MODE_NAMES,
    default: "console",
    help: "console: you answer clients; echo: lines come back; chat: a room",
  },
  {
    name: "max-line",
    kind: "bytes",
    value: "BYTES",
    default: 65536,
    help: "longest line accepted; a longer one gets ERR and a close",
  },
  {
    name: "max-queue",
    kind: "bytes",
    value: "BYTES",
    default: 1048576,
    help: "bytes waiting for a client that stopped reading before it is dropped (talkers wait from half)",
  },
  {
    name: "drain-timeout",
    kind: "seconds",
    value: "SECONDS",
    default: 5,
    help: "how long shutdown may spend flushing queued lines",
  },
  {
    name: "workers",
    kind: "count",
    value: "N",
    default: 1,
    min: 1,
    help: "isolates serving the port at once, one thread each (Linux; echo and chat modes)",
  },
  {
    name: "backlog",
    kind: "count",
    value: "N",
    default: 4096,
    min: 1,
    help: "connections the kernel may queue before they are accepted (capped by the OS)",
  },
  {
    name: "max-conns",
    kind: "count",
    value: "N",
    default: 10000,
    min: 1,
    help: "most connections at once; more get ERR server full",
  },
  {
    name: "max-conns-per-ip",
    kind: "count",
    value: "N",
    default: 0,
    help: "most connections at once from one address (0: no limit)",
  },
  {
    name: "idle-timeout",
    kind: "seconds",
    value: "SECONDS",
    default: 0,
    help: "close a client that has sent nothing for this long (0: never)",
  },
  {
    name: "line-timeout",
    kind: "seconds",
    value: "SECONDS",
    default: 30,
    help: "close a client that takes longer than this to finish a line it started (0: never)",
  },
  {
    name: "log",
    kind: "choice",
    value: "FORMAT",
    choices: ["text", "json"],
    default: "text",
    help: "event log format on stderr",
  },
  {
    name: "log-level",
    kind: "choice",
    value: "LEVEL",
    choices: ["debug", "info", "warn", "error"],
    default: "info",
    help: "least severe event logged: debug adds quiet details, warn keeps warnings and errors only",
  },
  { name: "quiet", kind: "flag", default: false, help: "do not log each connect and disconnect" },
  {
    name: "tls",
    kind: "flag",
    default: false,
    help: "serve TLS; without --tls-cert, with a new self-signed certificate (its fingerprint is logged)",
  },
  {
    name: "tls-cert",
    kind: "text",
    value: "FILE",
    help: "certificate chain (PEM) to serve TLS with; needs --tls-key",
  },
  { name: "tls-key", kind: "text", value: "FILE", help: "private key (PEM) of --tls-cert" },
  {
    name: "handshake-timeout",
    kind: "seconds",
    value: "SECONDS",
    default: 10,
    help: "close a connection that has not finished its TLS handshake by then",
  },
  {
    name: "allow",
    kind: "text",
    value: "LIST",
    multiple: true,
    help: "only these addresses and CIDR blocks may connect (comma-separated; repeatable)",
  },
  {
    name: "deny",
    kind: "text",
    value: "LIST",
    multiple: true,
    help: "these addresses and CIDR blocks may not connect (comma-separated; repeatable)",
  },
  {
    name: "allow-file",
    kind: "text",
    value: "FILE",
    multiple: true,
    help: "--allow entries from a file: one per line, # comments",
  },
  { name: "deny-file", kind: "text", value: "FILE", multiple: true, help: "--deny entries from a file" },
  {
    name: "unix",
    kind: "text",
    value: "PATH",
    help: "listen on a Unix socket at PATH instead of TCP (Linux, macOS)",
  },
  {
    name: "unix-mode",
    kind: "octal",
    value: "MODE",
    default: 0o600,
    help: "permissions of the --unix socket file",
  },
  {
    name: "web",
    kind: "text",
    value: "[HOST:]PORT",
    help: "also serve a web page and WebSockets on this port: browsers join like any client (HOST: --host)",
  },
  {
    name: "web-origin",
    kind: "text",
    value: "ORIGIN",
    multiple: true,
    help: "with --web: pages from this origin may connect too, e.g. https://chat.example.com (* for any)",
  },
  {
    name: "web-host",
    kind: "text",
    value: "NAME",
    multiple: true,
    help:
      "with --web: a name browsers may reach this server by (Host), besides its addresses and --web-origin's",
  },
  {
    name: "history",
    kind: "count",
    value: "N",
    default: 0,
    help: "chat: send each newcomer the last N lines said, marked as history (0: none)",
  },
  {
    name: "redis",
    kind: "text",
    value: "URL",
    help: "chat: share the room with every server on this Redis (redis://[user:pass@]host:port[/db]; " +
      "rediss:// for TLS)",
  },
  {
    name: "redis-ca",
    kind: "text",
    value: "FILE",
    help: "with a rediss:// --redis: also trust this certificate (PEM), e.g. a private CA's",
  },
  {
    name: "room",
    kind: "text",
    value: "NAME",
    default: "parley",
    help: "with --redis: which room on that Redis to join",
  },
  {
    name: "admin",
    kind: "text",
    value: "[HOST:]PORT",
    help: "serve /healthz, /readyz and /metrics (Prometheus) on this port (HOST: 127.0.0.1)",
  },
  {
    name: "ready-needs-redis",
    kind: "flag",
    default: false,
    help: "with --admin and --redis: /readyz says 503 while the link to Redis is down",
  },
];

const CLIENT_FLAGS: FlagSpec[] = [
  { ...COMMON[0], help: "server address" },
  { ...COMMON[1], help: "server port" },
  {
    name: "connect-timeout",
    kind: "seconds",
    value: "SECONDS",
    default: 5,
    help: "give up connecting after this long (0: as long as the system tries)",
  },
  {
    name: "message",
    key: "messages",
    kind: "text",
    value: "TEXT",
    multiple: true,
    help: "send this line (repeatable), then stop as if input ended",
  },
  {
    name: "wait",
    kind: "seconds",
    value: "SECONDS",
    default: 5,
    help: "after input ends, how long to wait for the server's last lines",
  },
  {
    name: "json",
    kind: "flag",
    default: false,
    help: 'print each received line as {"time": ..., "text": ...}',
  },
  {
    name: "reconnect",
    kind: "flag",
    default: false,
    help: "when the server goes away, connect again (back-off 0.1 s to 5 s, with jitter)",
  },
  {
    name: "reconnect-attempts",
    kind: "count",
    value: "N",
    default: 0,
    help: "with --reconnect, give up after N failed connects in a row (0: never)",
  },
  {
    name: "tls",
    kind: "flag",
    default: false,
    help: "connect with TLS, verifying the server against the root certificates and --ca",
  },
  {
    name: "ca",
    kind: "text",
    value: "FILE",
    multiple: true,
    help: "also trust this certificate (PEM; implies --tls)",
  },
  {
    name: "fingerprint",
    kind: "text",
    value: "SHA256:HEX",
    help: "trust only the certificate with this SHA-256 fingerprint (implies --tls)",
  },
  { name: "unix", kind: "text", value: "PATH", help: "connect to the Unix socket at PATH instead of TCP" },
];

const META_FLAGS: FlagSpec[] = [
  { name: "help", short: "h", kind: "flag", help: "show this help" },
  { name: "version", short: "V", kind: "flag", help: "print the version" },
];

/** Settings of `parley-server`. */
export interface ServerConfig {
  host: string;
  port: number;
  mode: ModeName;
  maxLine: number;
  maxQueue: number;
  drainTimeout: number;
  workers: number;
  backlog: number;
  maxConns: number;
  maxConnsPerIp: number;
  idleTimeout: number;
  lineTimeout: number;
  log: LogFormat;
  logLevel: "debug" | "info" | "warn" | "error";
  quiet: boolean;
  tls: boolean;
  tlsCert: string | undefined;
  tlsKey: string | undefined;
  handshakeTimeout: number;
  allow: string[];
  deny: string[];
  allowFile: string[];
  denyFile: string[];
  unix: string | undefined;
  unixMode: number;
  /** `--web`: where browsers connect. */
  web: WebAddress | undefined;
  /** Normalized origins, or `*`. */
  webOrigin: string[];
  /** Lower-cased host names. */
  webHost: string[];
  history: number;
  /** Checked: a redis:// or rediss:// URL. */
  redis: RedisAddress | undefined;
  redisCa: string | undefined;
  room: string;
  /** `--admin`: where the operator's endpoint listens. */
  admin: WebAddress | undefined;
  readyNeedsRedis: boolean;
}

/** Where `--web` listens. */
export interface WebAddress {
  host: string;
  port: number;
}

/** Settings of `parley-client`. */
export interface ClientConfig {
  host: string;
  port: number;
  connectTimeout: number;
  messages: string[];
  wait: number;
  json: boolean;
  reconnect: boolean;
  reconnectAttempts: number;
  tls: boolean;
  ca: string[];
  /** Normalized to `SHA256:AB:CD:...`. */
  fingerprint: string | undefined;
  unix: string | undefined;
}

/** What a command line asks for. */
export type Command<Config> = { kind: "run"; config: Config } | { kind: "help" } | { kind: "version" };

function convert(spec: FlagSpec, raw: string): string | number {
  const flag = `--${spec.name}`;
  switch (spec.kind) {
    case "text":
      return raw;
    case "host": {
      // [::1] is how an IPv6 address is written next to a port; here it stands alone.
      const host = /^\[(.*)\]$/.exec(raw)?.[1] ?? raw;
      if (host === "") throw new UsageError(`${flag} needs an address or a host name, got ""`);
      return host;
    }
    case "choice":
      if (!spec.choices!.includes(raw)) {
        throw new UsageError(`${flag} must be one of ${spec.choices!.join(", ")}, got "${raw}"`);
      }
      return raw;
    case "port": {
      const port = /^\d{1,5}$/.test(raw) ? Number(raw) : NaN;
      if (!(port <= 65535)) {
        throw new UsageError(`${flag} must be a port number from 0 to 65535, got "${raw}"`);
      }
      return port;
    }
    case "count": {
      const min = spec.min ?? 0;
      if (!/^\d{1,9}$/.test(raw) || Number(raw) < min) {
        throw new UsageError(`${flag} must be a whole number from ${min}, got "${raw}"`);
      }
      return Number(raw);
    }
    case "bytes": {
      const match = /^(\d{1,12})(?:([kKmMgG])(?:i?B)?|B)?$/.exec(raw);
      const unit = match?.[2]?.toUpperCase();
      const scale = unit === undefined ? 1 : 1024 ** ("KMG".indexOf(unit) + 1);
      const bytes = match ? Number(match[1]) * scale : NaN;
      if (!(bytes >= 1 && bytes <= 2 ** 31)) {
        throw new UsageError(
          `${flag} must be a size in bytes from 1 to 2G (e.g. 65536, 64K, 1M), got "${raw}"`,
        );
      }
      return bytes;
    }
    case "seconds": {
      const seconds = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN;
      if (!(seconds <= 86400)) {
        throw new UsageError(`${flag} must be a number of seconds from 0 to 86400, got "${raw}"`);
      }
      return seconds;
    }
    case "octal": {
      if (!/^0?[0-7]{3}$/.test(raw)) {
        throw new UsageError(`${flag} must be an octal mode such as 600, got "${raw}"`);
      }
      return parseInt(raw, 8);
    }
    case "flag":
      throw new TypeError(`${flag} takes no value`);
  }
}

/**
 * Rewrites `args` for `parseArgs`: one-letter aliases become long flags, a flag that takes a value
 * takes the next argument whatever it looks like (`--port -1` is a bad port, not a missing value;
 * `--message -x` sends "-x"), and `--` is dropped wherever it is (`deno task server -- --port 1`
 * passes it along; no flag takes positional arguments).
 */
function normalize(args: string[], specs: FlagSpec[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") continue;
    const spec = specs.find((s) => arg === `--${s.name}` || (s.short !== undefined && arg === `-${s.short}`));
    if (spec === undefined) out.push(arg);
    else if (spec.kind === "flag") out.push(`--${spec.name}`);
    else if (i + 1 < args.length) out.push(`--${spec.name}=${args[++i]}`);
    else out.push(`--${spec.name}`);
  }
  return out;
}

function parse(args: string[], specs: FlagSpec[]): Command<Record<string, unknown>> {
  const all = [...specs, ...META_FLAGS];
  let parsed;
  try {
    parsed = parseArgs({
      args: normalize(args, all),
      strict: true,
      allowPositionals: false,
      options: Object.fromEntries(all.map((spec) => [
        spec.name,
        { type: spec.kind === "flag" ? "boolean" : "string", multiple: spec.multiple ?? false },
      ])),
    });
  } catch (error) {
    throw new UsageError(explainParseError(error, all));
  }
  const values = parsed.values as Record<string, string | string[] | boolean | undefined>;
  if (values.help) return { kind: "help" };
  if (values.version) return { kind: "version" };
  const config: Record<string, unknown> = {};
  for (const spec of specs) {
    const key = spec.key ?? spec.name.replace(/-(\w)/g, (_, c: string) => c.toUpperCase());
    const raw = values[spec.name];
    if (raw === undefined) config[key] = spec.multiple ? [] : spec.default;
    else if (typeof raw === "boolean") config[key] = raw;
    else if (Array.isArray(raw)) config[key] = raw.map((value) => convert(spec, value));
    else config[key] = convert(spec, raw);
  }
  return { kind: "run", config };
}

function explainParseError(error: unknown, specs: FlagSpec[]): string {
  const code = (error as { code?: string }).code;
  const message = error instanceof Error ? error.message : String(error);
  const flag = /'(-[^' ]*)/.exec(message)?.[1] ?? /'([^']*)'/.exec(message)?.[1] ?? "";
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown flag ${flag}`;
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return `unexpected argument "${flag}" (flags start with --)`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE": {
      const spec = specs.find((s) => flag === `--${s.name}`);
      return spec?.kind === "flag" ? `${flag} takes no value` : `${flag} needs a value`;
    }
    default:
      return message;
  }
}

/** Most `--workers`: far beyond any core count that helps, low enough to catch a typo. */
const MAX_WORKERS = 256;

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
  const command = parse(args, SERVER_FLAGS) as Command<ServerConfig>;
  if (command.kind !== "run") return command;
  const config = command.config;
  if ((config.tlsCert === undefined) !== (config.tlsKey === undefined)) {
    throw new UsageError("--tls-cert and --tls-key go together: a certificate and its private key");
  }
  if (config.tlsCert !== undefined) config.tls = true;
  try {
    new AccessList({ allow: config.allow, deny: config.deny });
  } catch (error) {
    if (error instanceof AccessEntryError) {
      throw new UsageError(
        `--${config.allow.some((e) => e.includes(error.entry)) ? "allow" : "deny"}: ${error.message}`,
      );
    }
    throw error;
  }
  if (config.unix !== undefined) {
    if (os === "windows") throw new UsageError("--unix needs Linux or macOS");
    if (config.tls) throw new UsageError("--tls works over TCP only, not with --unix");
    if (config.workers > 1) {
      throw new UsageError("--workers above 1 needs TCP: workers share a port, not a socket file");
    }
  }
  checkRoom(config);
  checkWeb(config);
  checkAdmin(config);
  if (config.workers === 1) return command;
  const { workers, mode } = config;
  if (workers > MAX_WORKERS) throw new UsageError(`--workers must be at most ${MAX_WORKERS}, got ${workers}`);
  if (os !== "linux") throw new UsageError(`--workers above 1 needs Linux (SO_REUSEPORT), not ${os}`);
  if (mode === "console") {
    throw new UsageError("--workers above 1 needs --mode echo or chat: console mode has one operator");
  }
  return command;
}

/** Most `--history`: enough to scroll back through, little enough to send every newcomer. */
const MAX_HISTORY = 100000;

/** Checks `--redis`, `--room` and `--history`, and turns the URL into its parts. */
function checkRoom(config: ServerConfig): void {
  const raw = config.redis as unknown as string | undefined;
  if (config.history > MAX_HISTORY) {
    throw new UsageError(`--history must be at most ${MAX_HISTORY}, got ${config.history}`);
  }
  if (config.history > 0 && config.mode !== "chat") throw new UsageError("--history needs --mode chat");
  if (raw === undefined) {
    if (config.room !== "parley") {
      throw new UsageError("--room needs --redis: rooms are shared through Redis");
    }
    if (config.redisCa !== undefined) throw new UsageError("--redis-ca needs a rediss:// --redis");
    return;
  }
  if (config.mode !== "chat") throw new UsageError("--redis needs --mode chat: only a chat room is shared");
  const address = checkRedisUrl(raw);
  // The URL may hold a password: say what is wrong with it, not what it is.
  if (typeof address === "string") throw new UsageError(`--redis ${address}`);
  if (config.redisCa !== undefined && !address.tls) {
    throw new UsageError("--redis-ca needs a rediss:// --redis: redis:// is not encrypted");
  }
  if (!ROOM_NAME.test(config.room)) {
    throw new UsageError(`--room must be 1-64 of A-Z a-z 0-9 _ . -, got ${JSON.stringify(config.room)}`);
  }
  config.redis = address;
}

/** Checks `--web` and `--web-origin`, and turns `[HOST:]PORT` into its parts. */
function checkWeb(config: ServerConfig): void {
  const raw = config.web as unknown as string | undefined;
  const origins = config.webOrigin.flatMap((entry) => entry.split(",")).map((entry) => entry.trim());
  for (const origin of origins) {
    if (normalizeOrigin(origin) === undefined) {
      throw new UsageError(
        `--web-origin must be an origin such as https://chat.example.com or *, got ${JSON.stringify(origin)}`,
      );
    }
  }
  config.webOrigin = origins.map((origin) => normalizeOrigin(origin)!);
  const hosts = config.webHost.flatMap((entry) => entry.split(",")).map((entry) => entry.trim());
  for (const host of hosts) {
    if (normalizeHostName(host) === undefined) {
      throw new UsageError(
        `--web-host must be a host name such as chat.example.com, got ${JSON.stringify(host)}`,
      );
    }
  }
  config.webHost = hosts.map((host) => normalizeHostName(host)!);
  if (raw === undefined) {
    if (origins.length > 0) throw new UsageError("--web-origin needs --web");
    if (hosts.length > 0) throw new UsageError("--web-host needs --web");
    return;
  }
  const { host, port } = hostAndPort("--web", raw, config.host, 8080);
  // One port cannot serve both, on the same address or where either is every address.
  const wildcard = (address: string) => address === "0.0.0.0" || address === "::";
  const overlaps = host === config.host || wildcard(host) || wildcard(config.host);
  if (config.unix === undefined && port !== 0 && port === config.port && overlaps) {
    throw new UsageError(`--web and --port must be different ports, both are ${port}`);
  }
  config.web = { host, port };
}

/** Checks `--admin` and `--ready-needs-redis`, and turns `[HOST:]PORT` into its parts. */
function checkAdmin(config: ServerConfig): void {
  const raw = config.admin as unknown as string | undefined;
  if (raw === undefined) {
    if (config.readyNeedsRedis) throw new UsageError("--ready-needs-redis needs --admin");
    return;
  }
  if (config.readyNeedsRedis && config.redis === undefined) {
    throw new UsageError("--ready-needs-redis needs --redis");
  }
  config.admin = hostAndPort("--admin", raw, "127.0.0.1", 9090);
}

/**
 * `[HOST:]PORT` of `flag`, its host `fallback` when left out (`8080`, `:8080`), an IPv6 address in
 * brackets (`[::1]:8080`). `example` is the port the usage error shows.
 */
function hostAndPort(flag: string, raw: string, fallback: string, example: number): WebAddress {
  const match = /^(?:(.*):)?(\d{1,5})$/.exec(raw);
  const host = match?.[1] === undefined || match[1] === "" ? fallback : match[1].replace(/^\[(.*)\]$/, "$1");
  const port = Number(match?.[2]);
  if (match === null || port > 65535 || host === "") {
    throw new UsageError(
      `${flag} must be [HOST:]PORT, e.g. ${example} or 0.0.0.0:${example}, got ${JSON.stringify(raw)}`,
    );
  }
  return { host, port };
}

/** Parses `parley-client` arguments. Throws {@linkcode UsageError}. */
export function parseClientArgs(args: string[]): Command<ClientConfig> {
  const command = parse(args, CLIENT_FLAGS) as Command<ClientConfig>;
  if (command.kind !== "run") return command;
  const config = command.config;
  if (config.reconnectAttempts > 0 && !config.reconnect) {
    throw new UsageError("--reconnect-attempts needs --reconnect");
  }
  if (config.fingerprint !== undefined) {
    const hex = normalizeFingerprint(config.fingerprint);
    if (hex === undefined) {
      throw new UsageError(
        `--fingerprint must be SHA256: and 64 hex digits, as the server logs it, got "${config.fingerprint}"`,
      );
    }
    config.fingerprint = formatFingerprint(hex);
  }
  if (config.fingerprint !== undefined || config.ca.length > 0) config.tls = true;
  if (config.unix !== undefined && config.tls) {
    throw new UsageError("--tls works over TCP only, not with --unix");
  }
  return command;
}

function formatHelp(program: string, summary: string, specs: FlagSpec[]): string {
  const rows = [...specs, ...META_FLAGS].map((spec) => {
    const left = `--${spec.name}${spec.short ? `, -${spec.short}` : ""}${spec.value ? ` ${spec.value}` : ""}`;
    const value = spec.kind === "octal" ? Number(spec.default).toString(8) : spec.default;
    const shown = spec.kind !== "flag" && spec.default !== undefined ? ` (default: ${value})` : "";
    return [left, `${spec.help}${shown}`];
  });
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return [
    `${program} ${VERSION}: ${summary}`,
    "",
    `Usage: ${program} [flags]`,
    "",
    "Flags:",
    ...rows.map(([left, right]) => `  ${left.padEnd(width)}${right}`),
  ].join("\n");
}

/** `parley-server --help`. */
export function serverHelp(): string {
  return formatHelp("parley-server", "a concurrent multi-client TCP line server", SERVER_FLAGS) +
    "\n\nIn console mode, type /help for the operator's commands.";
}

/** `parley-client --help`. */
export function clientHelp(): string {
  return formatHelp("parley-client", "talk to a line server from the terminal or a script", CLIENT_FLAGS) +
    "\n\nA line with only . ends the session. Received lines go to stdout, status to stderr.";
}
