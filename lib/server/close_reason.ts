/**
 * Why a connection closed: a closed set of reasons, so that the log, the summary and the tests name
 * them the same way, and whether a close was the client's fault is a property of the reason rather
 * than a flag kept beside it.
 */

/** Every way a connection can end. */
export type CloseReason =
  // In the ordinary course of things.
  /** The client closed its side (end of stream). */
  | "client closed"
  /** The client sent `.` in console mode. */
  | "client ended the conversation"
  /** The peer reset the connection or the socket broke; the detail says how. */
  | "connection lost"
  /** The server is shutting down. */
  | "server shutting down"
  /** The operator's `/kick`. */
  | "kicked by operator"
  /** The operator's `.`. */
  | "operator ended the conversation"
  /** Its session (`/resume`) was taken over by another connection. */
  | "session taken over"
  // Limits the client broke: logged as warnings, and the client's last line is `ERR ...`.
  | "line too long"
  | "output queue full"
  | "idle timeout"
  | "line timeout"
  /** It sent lines faster than `--rate` for longer than `--rate-kick`. */
  | "over the rate"
  /** It broke its transport's rules (a WebSocket client's binary frame); the detail says how. */
  | "protocol error"
  /** A bug in the server; the detail says which. The client gets `ERR internal error`. */
  | "internal error";

const VIOLATIONS: ReadonlySet<CloseReason> = new Set<CloseReason>([
  "line too long",
  "output queue full",
  "idle timeout",
  "line timeout",
  "over the rate",
  "protocol error",
  "internal error",
]);

/** Whether the server closed the connection for breaking a limit (or for a bug). */
export function isViolation(reason: CloseReason): boolean {
  return VIOLATIONS.has(reason);
}
