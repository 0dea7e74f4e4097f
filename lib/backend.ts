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
  /** The link's state now, where there is a link to watch (Redis). */
  health?(): LinkHealth;
  /** Leaves whatever the backend joined; call it once the server has finished. */
  leave(): Promise<void>;
}
