/**
 * Parley as a library: a concurrent multi-client line server and its client.
 *
 * The folders follow a byte from the socket to a reply:
 *
 * - `transport/`: where connections come from and what they read and write ({@linkcode Listener},
 *   {@linkcode Stream}): TCP, TLS, Unix sockets, WebSockets ({@linkcode WebSocketStream}).
 * - `protocol/`: pure wire rules: the capped line framer and terminal-safe escaping.
 * - `server/`: the accept loop ({@linkcode serve}), each client's lifecycle ({@linkcode Connection})
 *   with its output queue and deadlines, the room, the log, the operator, and `modes/`.
 * - `registry/`: connection ids, admission limits and chat names ({@linkcode MemoryRegistry} in one
 *   process, shared memory for `--workers`, Redis for `--redis`).
 * - `relay/`: room events to rooms served elsewhere (the other workers, the other servers).
 * - `redis/`: a server's place in a chat room shared through Redis ({@linkcode openChatRoom}).
 * - `web/`: the page and the HTTP side of the WebSocket bridge ({@linkcode listenWeb}).
 * - `workers/`: the `--workers` pool and its worker entry.
 * - `client/`: the client's sessions and reconnects ({@linkcode runClient}).
 * - `util/`: small helpers every side uses; `cli.ts` and `terminal.ts` serve the two programs.
 *
 * The server core (`server/`, `protocol/`) knows transports, registries and relays only as
 * interfaces, so a new kind of each plugs in without touching the modes.
 *
 * @example An echo server on a port the system picks, stopped by an AbortSignal
 * ```ts
 * import { createLogger, listenTcp, MemoryRegistry, serve } from "./mod.ts";
 *
 * const stop = new AbortController();
 * const server = serve(listenTcp({ host: "127.0.0.1", port: 0 }), {
 *   mode: "echo",
 *   registry: new MemoryRegistry(),
 *   logger: createLogger({ write: console.error }),
 *   signal: stop.signal,
 * });
 * stop.abort();
 * await server.finished;
 * ```
 *
 * @module
 */

export {
  serve,
  type ServeOptions,
  type ServerHandle,
  type ServeSettings,
  type ServeSummary,
} from "./server/serve.ts";
export { Connection, type ConnectionOptions, type ConnectionSettings } from "./server/connection.ts";
export type { CloseReason } from "./server/close_reason.ts";
export { createLogger, type Logger, type LoggerOptions } from "./log.ts";
export { type Member, type Mode, MODE_NAMES, type ModeName } from "./server/modes/mod.ts";
export type { Operator } from "./server/operator.ts";
export { LineFramer, LineTooLongError } from "./protocol/framer.ts";
export { escapeControl, escapeText } from "./protocol/escape.ts";
export type { Listener, Stream } from "./transport/transport.ts";
export { connectTcp, listenTcp, type TcpListenOptions } from "./transport/tcp.ts";
export { WebSocketStream } from "./transport/websocket.ts";
export { listenWeb, type WebListenOptions } from "./web/listener.ts";
export type { NameEvents, Names, Refusal, Registry, RegistryLimits } from "./registry/registry.ts";
export { MemoryRegistry } from "./registry/memory.ts";
export type { LineKind, Relay, RelayHandlers } from "./relay/relay.ts";
export { type History, type HistoryEntry, type HistorySnapshot, MemoryHistory } from "./history/history.ts";
export { type ChatRoom, openChatRoom, type RoomSettings } from "./redis/mod.ts";
export { type ClientOptions, type ClientOutcome, ConnectError, runClient } from "./client/run_client.ts";
