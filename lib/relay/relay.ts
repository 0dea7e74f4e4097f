/**
 * The relay seam: room events that must reach clients served elsewhere. A chat room whose clients
 * are spread over several isolates (`--workers`) or several servers (`--redis`) publishes every
 * line it tells its own clients, and delivers every line the others publish. A single process has
 * no relay at all.
 *
 * A relay carries finished lines (`<bob> hi`, `* bob joined`), never commands: whoever publishes
 * has already decided what everyone sees, so delivering is only copying into local queues. It
 * keeps each publisher's order, and never echoes a line back to the room that published it.
 */

/** What a line is: something a client said, a notice from a server, or a private message. */
export type LineKind = "said" | "notice" | "private";

/** A line another room published, as it is delivered. */
export interface RoomLine {
  /** The finished line, escaped, without its `\n`. */
  line: Uint8Array;
  kind: LineKind;
  /** A private line's recipient: the connection id that holds its name (ids are unique in the room). */
  to?: number;
  /**
   * Where the backend's history keeps the line, when it keeps it as it relays it (a Redis stream
   * id): `HistorySnapshot.holds` compares it, so that a newcomer is not sent a line twice.
   */
  mark?: string;
}

/** What a relay tells the room it serves. */
export interface RelayHandlers {
  /** A line another room published. */
  deliver(line: RoomLine): void;
  /** The link to the other rooms went down (`false`) or came back (`true`). */
  link?(up: boolean): void;
}

/** One room's link to the rooms served elsewhere. */
export interface Relay {
  /** From now on, `handlers` hear what the other rooms publish. */
  open(handlers: RelayHandlers): void;
  /**
   * Sends `line` to every other room; a `private` one is for connection `to` only, which the room
   * that serves it delivers. Keeps `line` until it has left: do not reuse it.
   */
  publish(line: string | Uint8Array, kind?: LineKind, to?: number): void;
  /**
   * From now on, `listener` hears when more has been sent than the other rooms have taken (`true`:
   * the room's talkers should wait, as for a local client that is backed up) and when that is over
   * (`false`). A relay that cannot fall behind may leave this out.
   */
  pressure?(listener: (backedUp: boolean) => void): void;
  /** Sends what is pending and leaves. */
  close(): void | Promise<void>;
}
