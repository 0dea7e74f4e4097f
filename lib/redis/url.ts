/**
 * What `--redis` and `--room` accept, checked before anything connects: a bad URL is a usage
 * error (exit 2), an unreachable or unwelcoming Redis a runtime one (exit 1). Pure, so the command
 * line can use it without loading a Redis client.
 */

/** A `--redis` URL, taken apart. */
export interface RedisAddress {
  /** The URL as given, to connect with. */
  url: string;
  /** The URL without its password, to show in messages and logs. */
  shown: string;
  /** `rediss://`: TLS to Redis. */
  tls: boolean;
  /** With TLS: a certificate (PEM) to trust besides the system's, such as a private CA's. */
  ca?: string;
  /** Behind Sentinel: the primary's name, the sentinels to ask, and the credentials for Redis. */
  sentinel?: {
    name: string;
    nodes: { host: string; port: number }[];
    username?: string;
    password?: string;
  };
}

/** A `--redis` URL's parts, or why it cannot be used (a phrase to follow the URL). */
export function checkRedisUrl(raw: string): RedisAddress | string {
  if (/^rediss?\+sentinel:/i.test(raw)) return checkSentinelUrl(raw);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "is not a URL (redis://[user:pass@]host:port[/db] or rediss://...)";
  }
  if (url.protocol !== "redis:" && url.protocol !== "rediss:") {
    return `must start with redis:// or rediss://, not ${url.protocol}//`;
  }
  if (url.hostname === "") return "needs a host (redis://host:port)";
  if (!/^(\/\d{0,5})?$/.test(url.pathname)) {
    return `names a database "${url.pathname.slice(1)}": use a number`;
  }
  if (url.search !== "" || url.hash !== "") return "takes no ?query or #fragment";
  return { url: raw, shown: showRedisUrl(url), tls: url.protocol === "rediss:" };
}

/** The default port of a sentinel. */
const SENTINEL_PORT = 26379;

/**
 * `redis+sentinel://[user:pass@]host[:port][,host[:port]...]/PRIMARY` (or `rediss+sentinel://`
 * for TLS to Redis): the form ioredis and other clients take. The credentials are Redis's; the
 * sentinels are asked without any.
 */
function checkSentinelUrl(raw: string): RedisAddress | string {
  const form = "(redis+sentinel://[user:pass@]host:port[,host:port...]/PRIMARY)";
  const match = /^(rediss?)\+sentinel:\/\/(?:([^@/]*)@)?([^/?#]*)\/([^/?#]*)$/i.exec(raw);
  if (match === null) return `is not a Sentinel URL ${form}`;
  const [, scheme, credentials, hosts, name] = match;
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) return `needs the primary's name after the hosts ${form}`;
  const nodes: { host: string; port: number }[] = [];
  for (const node of hosts.split(",")) {
    const parts = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(?::(\d{1,5}))?$/.exec(node);
    const port = parts?.[2] === undefined ? SENTINEL_PORT : Number(parts[2]);
    if (parts === null || port < 1 || port > 65535) return `names a sentinel "${node}" that is not host:port`;
    nodes.push({ host: parts[1].replace(/^\[(.*)\]$/, "$1"), port });
  }
  const colon = credentials?.indexOf(":") ?? -1;
  const decode = (text: string | undefined) =>
    text === undefined || text === "" ? undefined : decodeURIComponent(text);
  const username = decode(colon === -1 ? credentials : credentials!.slice(0, colon));
  const password = decode(colon === -1 ? undefined : credentials!.slice(colon + 1));
  const shown = raw.replace(/^([^:]+:\/\/[^:@/]*:)[^@/]*@/, "$1***@");
  return {
    url: raw,
    shown,
    tls: scheme.toLowerCase() === "rediss",
    sentinel: { name, nodes, username, password },
  };
}

/** `url` with its password replaced by `***`. */
function showRedisUrl(url: URL): string {
  if (url.password === "") return url.href.replace(/\/$/, "");
  const shown = new URL(url.href);
  shown.password = "***";
  return shown.href.replace(/\/$/, "");
}
