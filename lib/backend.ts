/**
 * The backend seam: what a server's chat is served with. A backend gives ids, admission and names
 * (the registry), the rooms and who is in them (the directory), lines to and from the other
 * isolates or servers (the relay), and the last lines said (the history); it may also say how its link to the others is (Redis), and it is left once
 * the server has finished. One process, the workers of one server and servers joined through
 * Redis differ only in the backend that `app/backends.ts` chooses; nothing below it knows which.
 */

import type { History } from "./history/history.ts";
import type { Registry } from "./registry/registry.ts";
import type { Relay } from "./relay/relay.ts";
import type { Directory } from "./rooms/directory.ts";

/** The state of a backend's link to the other servers (Redis), as `/metrics` and `/readyz` see it. */
export interface LinkHealth {
  up: boolean;
  /** Times the link went down. */
  outages: number;
  /** Bytes sent and not yet confirmed. */
  unconfirmedBytes: number;
  /** The last liveness probe's round trip. */
  roundTripSeconds: number;
}

/** An address or CIDR block the chat's operator banned, until when (ms since the epoch). */
export interface StoredBan {
  entry: string;
  until: number;
}

/**
 * Where the operator's bans are kept for servers that start later (Redis): a server reads them
 * before it listens, so that no banned address slips in while it asks the others.
 */
export interface BanStore {
  /** The bans in force. */
  load(): Promise<StoredBan[]>;
  save(ban: StoredBan): Promise<void>;
  remove(entry: string): Promise<void>;
}

/**
 * A chat session as the servers share it (`/session`, with `--redis`): who it is, where, and what
 * it had seen when it started, so that any server can resume it.
 */
export interface StoredSession {
  /** The session's own id (not its token): it marks the lines its client said. */
  sid: string;
  name: string;
  /** Its rooms, in the order it entered them, and the one its plain lines go to. */
  rooms: string[];
  current?: string;
  /** The server (node) and connection that hold it. */
  node: string;
  id: number;
  /** By room key: the number of the last line told there before it had a session (or the room). */
  floor: Record<string, number>;
}

/** A line kept for a client that comes back: its room's number, when, and who said it. */
export interface LoggedLine {
  seq: number;
  at: number;
  /** The session that said it, if one did (it is not sent back to its author). */
  by?: string;
  line: Uint8Array;
}

/**
 * Where sessions outlive the connection, and the server, that held them (Redis): a session is
 * saved with the TTL of the resume window, taken by the server its client comes back to (once:
 * tokens are single-use), and the lines each room said are read from the room's log.
 */
export interface SessionStore {
  /** This server's node id: a session held here says so. */
  readonly node: string;
  /** Keeps `session` under `token` for the resume window from now. */
  save(token: string, session: StoredSession): void;
  /** The session under `token` ends. */
  forget(token: string): void;
  /**
   * Takes the session under `token` for connection `id` here, with the private lines kept for it
   * while it was away; `undefined` if there is none (wrong, expired or taken already).
   */
  take(token: string, id: number): Promise<{ session: StoredSession; privates: Uint8Array[] } | undefined>;
  /**
   * Keeps a private line for the session under `token` while its client is away; resolves to the
   * connection to forward it to instead if the session was resumed elsewhere meanwhile.
   */
  keepPrivate(token: string, line: Uint8Array): Promise<{ node: string; id: number } | undefined>;
  /**
   * Makes `room` keep its log (every line numbered and kept) for at least the resume window from
   * now; resolves to the number of the last line told there.
   */
  keepLog(room: string): Promise<number>;
  /** The lines told in `room` after number `after` still kept, and how many after it are not. */
  missed(room: string, after: number): Promise<{ lines: LoggedLine[]; lost: number }>;
}

/** What a server's chat is served with. */
export interface Backend {
  registry: Registry;
  /** The rooms across the chat. */
  directory: Directory;
  /** The link to rooms served elsewhere (other workers, other servers), if any. */
  relay?: Relay;
  /** The last lines said (`--history`), if kept. */
  history?: History;
  /** Where the operator's bans outlive a server (with Redis); none for one server or its workers. */
  bans?: BanStore;
  /** Where sessions outlive a server (with Redis and `--resume-window`); none for one server. */
  sessions?: SessionStore;
  /** The link's state now, where there is a link to watch (Redis). */
  health?(): LinkHealth;
  /** Leaves whatever the backend joined; call it once the server has finished. */
  leave(): Promise<void>;
}
