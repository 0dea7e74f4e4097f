/**
 * Session resumption on the wire (`/session`, `/resume`): a client that asked for a session gets
 * every line of a room after `@ROOM:SEQ ` (the room's own sequence number, monotonic per room),
 * and resumes with `/resume TOKEN ROOM:SEQ[,ROOM:SEQ...]`, the last number it saw in each room.
 * A client that never asked (`nc`) never sees a number. Pure: shared by the server, the client and
 * the tests.
 */

/** A token: 128 random bits, base64url without padding (22 characters). */
export function newToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** Whether `text` is written as a token is. */
export function looksLikeToken(text: string): boolean {
  return /^[A-Za-z0-9_-]{22}$/.test(text);
}

/** `@#rust:12 `: what comes before a room's line for a client with a session. */
export function sequenceMark(room: string, seq: number): string {
  return `@${room}:${seq} `;
}

/** A line's room, number and the rest, if it starts with a sequence mark. */
export function parseSequenceMark(line: string): { room: string; seq: number; rest: string } | undefined {
  const match = /^@(#[^\s:]+):(\d{1,15}) /.exec(line);
  return match === null
    ? undefined
    : { room: match[1], seq: Number(match[2]), rest: line.slice(match[0].length) };
}

/** `#a:3,#b:7`: the last number seen in each room, as `/resume` takes it. */
export function formatLastSeen(seen: ReadonlyMap<string, number>): string {
  return [...seen].map(([room, seq]) => `${room}:${seq}`).join(",");
}

/** The last number seen in each room from `/resume`'s second word; `undefined` if malformed. */
export function parseLastSeen(text: string): Map<string, number> | undefined {
  const seen = new Map<string, number>();
  if (text === "" || text === "-") return seen;
  for (const part of text.split(",")) {
    const match = /^(#[^\s:,]+):(\d{1,15})$/.exec(part);
    if (match === null) return undefined;
    seen.set(match[1], Number(match[2]));
  }
  return seen;
}
