/**
 * The relay seam: room events that must reach clients served elsewhere. A chat room whose clients
 * are spread over several isolates (`--workers`) publishes every line it tells its own clients,
 * and delivers every line the others publish. A single process has no relay at all.
 *
 * A relay carries finished lines (`<bob> hi`, `* bob joined`), never commands: whoever publishes
 * has already decided what everyone sees, so delivering is only copying into local queues. It
 * never echoes a line back to the room that published it.
 */

/** One room's link to the rooms served elsewhere. */
export interface Relay {
  /** From now on, `deliver` gets each line another room published. */
  open(deliver: (line: Uint8Array) => void): void;
  /** Sends `line` to every other room. Keeps `line` until it has left: do not reuse it. */
  publish(line: string | Uint8Array): void;
  /** Sends what is pending and leaves. */
  close(): void;
}
