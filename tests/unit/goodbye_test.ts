/** The server's goodbyes and the TLS answer as the client tells them apart (`lib/protocol/goodbye.ts`). */

import { assertEquals } from "../support/assert.ts";
import {
  isGoodbye,
  KICKED,
  looksLikeTls,
  OPERATOR_ENDED,
  SHUTTING_DOWN,
} from "../../lib/protocol/goodbye.ts";

Deno.test("the three goodbyes are goodbyes; notices and lines that look like them are not", () => {
  for (const line of [SHUTTING_DOWN, KICKED, OPERATOR_ENDED]) assertEquals(isGoodbye(line), true, line);
  for (
    const line of [
      "* user2 joined",
      "* server shutting down now",
      "<bob> * server shutting down",
      "",
      "ERR x",
    ]
  ) {
    assertEquals(isGoodbye(line), false, line);
  }
  assertEquals(SHUTTING_DOWN, "* server shutting down");
  assertEquals(KICKED, "* disconnected by the operator");
  assertEquals(OPERATOR_ENDED, "* the operator ended the conversation");
});

Deno.test("a TLS record (alert or handshake, TLS 1.0 to 1.3) is told from text", () => {
  for (
    const bytes of [[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x32], [0x16, 0x03, 0x01], [0x15, 0x03, 0x04], [
      0x16,
      0x03,
      0x00,
    ]]
  ) {
    assertEquals(looksLikeTls(Uint8Array.from(bytes)), true, bytes.join(" "));
  }
  const text = new TextEncoder().encode("* welcome");
  for (
    const bytes of [
      text,
      Uint8Array.of(0x15, 0x03),
      Uint8Array.of(0x17, 0x03, 0x03),
      Uint8Array.of(0x16, 0x02, 0x01),
      Uint8Array.of(0x16, 0x03, 0x05),
      Uint8Array.of(0x14, 0x03, 0x03),
    ]
  ) {
    assertEquals(looksLikeTls(bytes), false, [...bytes].join(" "));
  }
});
