/**
 * Sessions in Redis (`--redis` with `--resume-window`): a client that drops comes back on any
 * server of the chat, or on this one after it restarted. A session is one JSON value of the chat's
 * (`{parley}`), under a hash of its token (the token itself is never stored, logged or relayed),
 * with the resume window's TTL, which the server that holds it refreshes while its client is
 * connected. Resuming takes it in one script (tokens are single-use), with the private lines kept
 * for it meanwhile, and notes where it went for a private line still on its way to the old server.
 *
 * The lines a client missed come from its rooms' logs, which the relay writes as it publishes
 * (`relay.ts`, `PUBLISH_AND_LOG`): every line told in a room, under the room's number.
 */

import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import type { LoggedLine, SessionStore, StoredSession } from "../backend.ts";
import type { Logger } from "../log.ts";
import { escapeLine } from "../protocol/escape.ts";
import { parseRoom, roomKey } from "../protocol/rooms.ts";
import { parseName } from "../protocol/names.ts";
import { roomKeys } from "./keys.ts";
import type { RedisLink } from "./link.ts";
import { KEEP_LOG, KEEP_PRIVATE, READ_LOG, TAKE_SESSION } from "./scripts.ts";

/** Most private lines kept for a client away, as a server keeps in memory. */
export const MAX_KEPT_PRIVATES = 100;
/** How long a resume (or a new session) waits for each answer of Redis before it gives up on it. */
export const ANSWER_WITHIN_MS = 3000;

/** The chat's sessions, kept in Redis for the resume window. */
export class RedisSessions implements SessionStore {
  #link: RedisLink;
  #logger: Logger;
  #windowMs: number;
  #warned = false;

  constructor(link: RedisLink, logger: Logger, windowMs: number) {
    this.#link = link;
    this.#logger = logger;
    this.#windowMs = windowMs;
  }

  get node(): string {
    return this.#link.node;
  }

  save(token: string, session: StoredSession): void {
    const key = this.#link.keys.session(hash(token));
    this.#quietly(this.#link.send(["SET", key, JSON.stringify(session), "PX", String(this.#windowMs)]));
  }

  forget(token: string): void {
    const hashed = hash(token);
    const keys = this.#link.keys;
    this.#quietly(this.#link.send(["DEL", keys.session(hashed), keys.sessionPrivates(hashed)]));
  }

  async take(
    token: string,
    id: number,
  ): Promise<{ session: StoredSession; privates: Uint8Array[] } | undefined> {
    const hashed = hash(token);
    const keys = this.#link.keys;
    // If Redis runs the script after this gave up, the session is lost; its client has a fresh one.
    const reply = await this.#answered(this.#link.run<[string, string[]] | null>(
      TAKE_SESSION,
      [keys.session(hashed), keys.sessionPrivates(hashed), keys.sessionMoved(hashed)],
      [`${this.#link.node}|${id}`, String(this.#windowMs)],
    ));
    if (reply === null) return undefined;
    const session = parseSession(String(reply[0]));
    if (session === undefined) return undefined;
    // Servers escape what they send; whoever else can write to Redis is not trusted.
    const privates = reply[1].map((line) => escapeLine(Buffer.from(String(line)), { escaped: true }));
    return { session, privates };
  }

  async keepPrivate(token: string, line: Uint8Array): Promise<{ node: string; id: number } | undefined> {
    const hashed = hash(token);
    const keys = this.#link.keys;
    const moved = await this.#link.run<string | null>(
      KEEP_PRIVATE,
      [keys.sessionMoved(hashed), keys.sessionPrivates(hashed)],
      [Buffer.from(line), String(MAX_KEPT_PRIVATES), String(this.#windowMs)],
    );
    const match = moved === null ? null : /^(.+)\|(\d{1,16})$/.exec(String(moved));
    return match === null ? undefined : { node: match[1], id: Number(match[2]) };
  }

  async keepLog(room: string): Promise<number> {
    const keys = roomKeys(roomKey(room));
    // A minute more than the window: the server that says so again does it every half window at most.
    const seq = await this.#answered(
      this.#link.run<string | number>(KEEP_LOG, [keys.meta], [
        String(this.#windowMs + 60_000),
        keys.channel,
        this.#link.sharded ? "SPUBLISH" : "PUBLISH",
      ]),
    );
    return Number(seq) || 0;
  }

  async missed(room: string, after: number): Promise<{ lines: LoggedLine[]; lost: number }> {
    const keys = roomKeys(roomKey(room));
    const [last, entries] = await this.#answered(this.#link.run<[string, [string, string[]][]]>(
      READ_LOG,
      [keys.log, keys.meta],
      [String(after + 1)],
    ));
    const lines = entries.flatMap(([id, fields]): LoggedLine[] => {
      const field = (name: string) => {
        const at = fields.indexOf(name);
        return at === -1 || at % 2 === 1 ? undefined : String(fields[at + 1]);
      };
      const seq = Number(id.slice(0, id.indexOf("-")));
      const by = field("a");
      const line = field("l");
      if (!Number.isSafeInteger(seq) || line === undefined) return [];
      return [{
        seq,
        at: Number(field("t")) || 0,
        by: by === undefined || by === "-" ? undefined : by,
        line: escapeLine(Buffer.from(line), { escaped: true }),
      }];
    });
    const newest = Math.max(Number(last) || 0, lines.at(-1)?.seq ?? 0);
    const first = lines[0]?.seq ?? newest + 1;
    return { lines, lost: Math.max(0, first - after - 1) };
  }

  /**
   * `reply`, unless the link is down or Redis does not answer within {@linkcode ANSWER_WITHIN_MS}
   * (a Redis that hangs): a client that resumes is not kept waiting for it.
   */
  #answered<T>(reply: Promise<T>): Promise<T> {
    if (!this.#link.up) {
      reply.catch(() => {});
      return Promise.reject(new Error("the link to Redis is down"));
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    return Promise.race([
      reply,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("Redis did not answer")), ANSWER_WITHIN_MS);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  /** Runs `sent`, saying once that Redis refused while it was up. */
  #quietly(sent: Promise<unknown>): void {
    sent.catch((error) => {
      if (!this.#link.up || this.#warned) return;
      this.#warned = true;
      this.#logger.warn("redis_error", `cannot keep a session in Redis: ${error} (said once)`, {
        error: String(error),
      });
    });
  }
}

/** The key a token is kept under: its SHA-256, so that Redis never holds a token itself. */
function hash(token: string): string {
  return createHash("sha256").update(token).digest("base64url");
}

/** A session as a server saves it, or `undefined` for anything else found under its key. */
export function parseSession(text: string): StoredSession | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const { sid, name, rooms, current, node, id, floor } = value as Record<string, unknown>;
  const named = typeof name === "string" ? parseName(name) : undefined;
  if (
    typeof sid !== "string" || !/^[A-Za-z0-9_-]{1,64}$/.test(sid) || named === undefined ||
    !("name" in named) || named.name !== name || !Array.isArray(rooms) ||
    !rooms.every((room) => typeof room === "string" && "room" in parseRoom(room)) ||
    (current !== undefined && typeof current !== "string") || typeof node !== "string" ||
    typeof id !== "number" || !Number.isSafeInteger(id) || typeof floor !== "object" || floor === null ||
    !Object.values(floor).every((seq) => Number.isSafeInteger(seq))
  ) return undefined;
  return {
    sid,
    name,
    rooms,
    current: current as string | undefined,
    node,
    id,
    floor: floor as Record<string, number>,
  };
}
