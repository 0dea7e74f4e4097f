/**
 * Closing what may be closed already: a stream, a listener, a socket. Closing twice is no error
 * anywhere in Parley (a connection's drain and its abort can both get there; a listener may be
 * closed by its owner before the server's shutdown), so it is said once, here.
 */

/** Closes `closable`, for `args` if it takes them; one that is closed already stays so. */
export function closeQuietly<A extends unknown[]>(closable: { close(...args: A): void }, ...args: A): void {
  try {
    closable.close(...args);
  } catch {
    // Closed already.
  }
}
