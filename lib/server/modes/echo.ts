/**
 * Echo mode: every line comes back to its sender, byte for byte, in order. The output queue sends
 * the replies to all lines of one read in one write, and the connection stops reading from a
 * client that does not read its replies.
 */

import type { Mode } from "./mode.ts";

/** Creates the echo mode. */
export function createEchoMode(): Mode {
  return {
    join() {},
    line(member, line) {
      member.send(line);
    },
    leave() {},
  };
}
