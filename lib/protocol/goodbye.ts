/**
 * The lines a server says last when it ends a conversation itself, on purpose. A client that sees
 * its connection close after one of them knows the end was meant; a close without one (a crash, a
 * refusal, a killed process) is a broken connection. Pure: shared by the server and the client.
 */

/** The server is shutting down (SIGTERM, Ctrl+C). */
export const SHUTTING_DOWN = "* server shutting down";
/** The console operator's `/kick`. */
export const KICKED = "* disconnected by the operator";
/** The console operator's `.`. */
export const OPERATOR_ENDED = "* the operator ended the conversation";

const GOODBYES: ReadonlySet<string> = new Set([SHUTTING_DOWN, KICKED, OPERATOR_ENDED]);

/** Whether `line` is one of the server's goodbyes. */
export function isGoodbye(line: string): boolean {
  return GOODBYES.has(line);
}

/**
 * Whether `bytes`, the first a server sent, are a TLS record (an alert or a handshake, TLS 1.0 to
 * 1.3): what a TLS server answers a client that spoke plain text to it.
 */
export function looksLikeTls(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && (bytes[0] === 0x15 || bytes[0] === 0x16) && bytes[1] === 0x03 &&
    bytes[2] <= 0x04;
}
