/**
 * Room names: `#` and then a name as a nickname is (`names.ts`): of any one script, and one room
 * however it is spelled (`#Rust` and `#rust` are one room), so nobody can open a room that passes
 * for another. Pure: used by the flags (`--room`) and the chat mode.
 */

import { NAME_RULE, nameKey, parseName } from "./names.ts";

/** What a room name is, for usage lines. */
export const ROOM_RULE = `# then ${NAME_RULE}`;

/** `text` as a room name (in NFC, with its `#`), or why it cannot be one. */
export function parseRoom(text: string): { room: string } | { error: string } {
  if (!text.startsWith("#")) return { error: `a room's name starts with # (${ROOM_RULE})` };
  const parsed = parseName(text.slice(1));
  return "error" in parsed ? parsed : { room: `#${parsed.name}` };
}

/** The key of `room` (a name with its `#`): equal for two spellings of one room. */
export function roomKey(room: string): string {
  return `#${nameKey(room.slice(1))}`;
}
