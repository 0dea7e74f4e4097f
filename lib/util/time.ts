/**
 * Timestamps, from Temporal: wall-clock time for people, ISO instants for machines.
 */

/** Local wall-clock time with milliseconds, as `HH:MM:SS.mmm`. */
export function clockTime(time: Temporal.PlainTime = Temporal.Now.plainTimeISO()): string {
  return time.toString({ smallestUnit: "millisecond" });
}

/** The instant in UTC with milliseconds, as `2026-11-25T03:41:03.123Z`. */
export function isoTime(instant: Temporal.Instant = Temporal.Now.instant()): string {
  return instant.toString({ smallestUnit: "millisecond" });
}
