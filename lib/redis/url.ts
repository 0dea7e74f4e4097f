/**
 * What `--redis` accepts, checked before anything connects: a bad URL is a usage
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
  /** A Redis Cluster: some of its nodes (the client finds the rest), and the credentials. */
  cluster?: {
    nodes: { host: string; port: number }[];
    username?: string;
    password?: string;
  };
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
  if (/^rediss?\+cluster:/i.test(raw)) return checkClusterUrl(raw);
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
  const nodes = hostList(hosts, SENTINEL_PORT, "sentinel");
  if (typeof nodes === "string") return nodes;
  return {
    url: raw,
    shown: hideSecret(raw),
    tls: scheme.toLowerCase() === "rediss",
    sentinel: { name, nodes, ...parseCredentials(credentials) },
  };
}

/** The default port of a Redis server, and of a cluster's nodes. */
const REDIS_PORT = 6379;

/**
 * `redis+cluster://[user:pass@]host[:port][,host[:port]...]` (or `rediss+cluster://` for TLS): a
 * Redis Cluster, found from any of the nodes named.
 */
function checkClusterUrl(raw: string): RedisAddress | string {
  const form = "(redis+cluster://[user:pass@]host:port[,host:port...])";
  const match = /^(rediss?)\+cluster:\/\/(?:([^@/]*)@)?([^/?#]*)\/?$/i.exec(raw);
  if (match === null) return `is not a cluster URL ${form}`;
  const [, scheme, credentials, hosts] = match;
  const nodes = hostList(hosts, REDIS_PORT, "node");
  if (typeof nodes === "string") return nodes;
  return {
    url: raw,
    shown: hideSecret(raw),
    tls: scheme.toLowerCase() === "rediss",
    cluster: { nodes, ...parseCredentials(credentials) },
  };
}

/** `host[:port],...` as a list, or why not; a host without a port is on `port`. */
function hostList(hosts: string, port: number, what: string): { host: string; port: number }[] | string {
  const nodes: { host: string; port: number }[] = [];
  for (const node of hosts.split(",")) {
    const parts = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+)(?::(\d{1,5}))?$/.exec(node);
    const number = parts?.[2] === undefined ? port : Number(parts[2]);
    if (parts === null || number < 1 || number > 65535) {
      return `names a ${what} "${node}" that is not host:port`;
    }
    nodes.push({ host: parts[1].replace(/^\[(.*)\]$/, "$1"), port: number });
  }
  return nodes;
}

/** `user:pass` (URL-encoded) as its parts; empty ones left out. */
function parseCredentials(credentials: string | undefined): { username?: string; password?: string } {
  const colon = credentials?.indexOf(":") ?? -1;
  const decode = (text: string | undefined) =>
    text === undefined || text === "" ? undefined : decodeURIComponent(text);
  return {
    username: decode(colon === -1 ? credentials : credentials!.slice(0, colon)),
    password: decode(colon === -1 ? undefined : credentials!.slice(colon + 1)),
  };
}

/** A `+sentinel` or `+cluster` URL with its password replaced by `***`. */
function hideSecret(raw: string): string {
  return raw.replace(/^([^:]+:\/\/[^:@/]*:)[^@/]*@/, "$1***@");
}

/** `url` with its password replaced by `***`. */
function showRedisUrl(url: URL): string {
  if (url.password === "") return url.href.replace(/\/$/, "");
  const shown = new URL(url.href);
  shown.password = "***";
  return shown.href.replace(/\/$/, "");
}
