/**
 * The modes a server can run in, by name: the one table the command line, the server and the
 * workers consult.
 */

import type { Registry } from "../../registry/registry.ts";
import type { Relay } from "../../relay/relay.ts";
import type { History } from "../../history/history.ts";
import type { Logger } from "../../log.ts";
import type { Operator } from "../operator.ts";
import type { Bans } from "../access_list.ts";
import type { BanStore, SessionStore } from "../../backend.ts";
import type { Directory } from "../../rooms/directory.ts";
import type { Members } from "../members.ts";
import type { Transcript } from "../transcript.ts";
import { createChatMode, DEFAULT_ROOM } from "./chat.ts";
import { type ChatConsole, startChatConsole } from "./chat_console.ts";
import { createConsoleMode } from "./console.ts";
import { createEchoMode } from "./echo.ts";
import type { Mode, ModeName } from "./mode.ts";

export { MODE_NAMES } from "./mode.ts";
export type { Member, Mode, ModeName, Step } from "./mode.ts";

/** What a mode may use; each takes what it needs. */
export interface ModeContext {
  members: Members;
  registry: Registry;
  relay?: Relay;
  /** Chat mode: the last lines said, for newcomers. */
  history?: History;
  /** Chat mode: the rooms across the chat. */
  directory?: Directory;
  /** Chat mode: the operator's bans, which the door refuses. */
  bans?: Bans;
  /** Chat mode: where bans are kept for servers that start later. */
  banStore?: BanStore;
  /** Chat mode: where sessions outlive this server (Redis), if anywhere. */
  sessionStore?: SessionStore;
  /** Chat mode: the room every client starts in. */
  room?: string;
  /** Chat mode: most rooms at once. */
  maxRooms?: number;
  /** Chat mode: how long a dropped session may come back, in ms; 0 for none. */
  resumeWindowMs?: number;
  /** Chat mode: bytes of numbered lines each room keeps for clients that come back. */
  resumeBytes?: number;
  /** Chat mode: why sessions cannot be kept here, if they cannot. */
  sessionsOff?: string;
  /** Chat mode: most bytes of history a newcomer is sent. */
  historyBytes?: number;
  /** Chat mode: where every line said is written down. */
  transcript?: Transcript;
  /** The operator at the server's terminal: console mode's (without one, nobody answers) or a chat's. */
  operator?: Operator;
  logger: Logger;
  /** Asks the server to shut down gracefully. */
  shutdown: (reason: string) => void;
  /** Aborts when the server shuts down. */
  signal: AbortSignal;
  /** Console mode: the server's numbers, for `/stats`. */
  stats?: () => string;
}

/** Creates the mode called `name`. */
export function createMode(name: ModeName, context: ModeContext): Mode {
  switch (name) {
    case "echo":
      return createEchoMode();
    case "chat": {
      const { operator } = context;
      let operatorConsole: ChatConsole | undefined;
      const chat = createChatMode({
        members: context.members,
        names: context.registry.names,
        relay: context.relay,
        history: context.history,
        directory: context.directory,
        room: context.room,
        maxRooms: context.maxRooms,
        resumeWindowMs: context.resumeWindowMs,
        resumeBytes: context.resumeBytes,
        sessionsOff: context.sessionsOff,
        bans: context.bans,
        banStore: context.banStore,
        sessionStore: context.sessionStore,
        watch: operator === undefined ? undefined : (room, line) => operatorConsole?.show(room, line),
        historyBytes: context.historyBytes,
        transcript: context.transcript,
      });
      if (operator !== undefined) {
        const { shutdown, logger, signal, stats } = context;
        operatorConsole = startChatConsole({
          operator,
          chat: chat.control,
          room: context.room ?? DEFAULT_ROOM,
          shutdown,
          logger,
          signal,
          stats,
        });
      }
      return chat;
    }
    case "console":
      return createConsoleMode(context);
  }
}
