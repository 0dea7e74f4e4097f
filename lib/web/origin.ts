/**
 * Origins as `--web-origin` takes them and browsers send them. Pure, so that the command line can
 * check them without loading the web side.
 */

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
