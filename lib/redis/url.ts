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
}

/** A `--redis` URL's parts, or why it cannot be used (a phrase to follow the URL). */
export function checkRedisUrl(raw: string): RedisAddress | string {
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

/** `url` with its password replaced by `***`. */
function showRedisUrl(url: URL): string {
  if (url.password === "") return url.href.replace(/\/$/, "");
  const shown = new URL(url.href);
  shown.password = "***";
  return shown.href.replace(/\/$/, "");
}

/** A room name: it becomes part of Redis keys and of a channel name, so it is kept plain. */
export const ROOM_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
