/**
 * The relay seam: room events that must reach clients served elsewhere. A chat whose clients are
 * spread over several isolates (`--workers`) or several servers (`--redis`) publishes every line
 * it tells its own clients in a room, and delivers every line the others publish in the rooms it
 * has members in (a relay may deliver others too; the chat drops them). A single process has no
 * relay at all.
 *
 * A relay carries finished lines (`<bob> hi`, `* bob joined`), never commands: whoever publishes
 * has already decided what everyone sees, so delivering is only copying into local queues. It
 * keeps each publisher's order, and never echoes a line back to the room that published it.
 */

/**
 * What a line is: something a client said, a notice from a server, a private message, or a
 * control line: the operator's word (`kick reason`...) for the isolate that serves connection
 * `to`, or for every isolate (`to` 0), never shown to a client as it is.
 */
export type LineKind = "said" | "notice" | "private" | "control";

/** A line another room published, as it is delivered. */
export interface RoomLine {
  /** The finished line, escaped, without its `\n`. */
  line: Uint8Array;
  kind: LineKind;
  /** The room it was said in, with its `#` (not for a private line). */
  room?: string;
  /** A private or control line's recipient: a connection id (unique in the chat); 0 for every isolate. */
  to?: number;
  /**
   * Where the backend's history keeps the line, when it keeps it as it relays it (a Redis stream
   * id): `HistorySnapshot.holds` compares it, so that a newcomer is not sent a line twice.
   */
  mark?: string;
  /** Its number in the room, where the relay numbers lines (with sessions through Redis). */
  seq?: number;
  /** The session that said it, if one did: its client is not sent it back. */
  by?: string;
  /**
   * Set on a line this isolate published with this echo id, come back numbered: only its clients
   * with sessions, which waited for the number, are told it now (see {@linkcode Relay.numbering}).
   */
  echoId?: number;
}

/** What a room line is published with besides itself, where sessions number lines (Redis). */
export interface LineTag {
  /** The session that said it, if one did. */
  by?: string;
  /** Come back to this isolate, numbered, under this id (its clients with sessions wait for it). */
  echo?: number;
}

/** What a relay tells the chat it serves. */
export interface RelayHandlers {
  /** A line another room published. */
  deliver(line: RoomLine): void;
  /** The link to the other rooms went down (`false`) or came back (`true`). */
  link?(up: boolean): void;
}

/** One isolate's link to the chat's rooms served elsewhere. */
export interface Relay {
  /** From now on, `handlers` hear what the other rooms publish. */
  open(handlers: RelayHandlers): void;
  /**
   * Sends `line` to the others: to room `to` (its name), or, for a `private` or `control` line, to
   * connection `to` only, which the isolate that serves it delivers (a control line to 0: to
   * every isolate). Keeps `line` until it has left: do not
   * reuse it. `tag` says who said it and whether it comes back (with sessions through Redis).
   */
  publish(line: string | Uint8Array, kind: LineKind, to: string | number, tag?: LineTag): void;
  /**
   * Whether a room line published now with an echo id comes back numbered, as an `echo` (with
   * sessions through Redis, while the link is up): this isolate's clients with sessions are then
   * told it when it does, so that every client of the room sees its lines in one order under one
   * numbering.
   */
  readonly numbering?: boolean;
  /**
   * This isolate has members in `room` now: deliver what the others say there, from when the
   * returned promise (if any) resolves.
   */
  enter?(room: string): void | Promise<void>;
  /** This isolate has no members in `room` any more. */
  leave?(room: string): void;
  /**
   * From now on, `listener` hears when more has been sent than the other rooms have taken (`true`:
   * the room's talkers should wait, as for a local client that is backed up) and when that is over
   * (`false`). A relay that cannot fall behind may leave this out.
   */
  pressure?(listener: (backedUp: boolean) => void): void;
  /** Sends what is pending and leaves. */
  close(): void | Promise<void>;
}
