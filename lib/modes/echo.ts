/**
 * Echo mode: every line comes back to its sender, byte for byte, in order. The connection
 * coalesces the replies to all lines of one read into one write, and stops reading from a client
 * that does not read its replies.
 */

import type { Mode } from "./mode.ts";

/** Creates the echo mode. */
export function createEchoMode(): Mode {
  return {
    join() {},
    line(conn, line) {
      conn.send(line);
    },
    leave() {},
  };
}
