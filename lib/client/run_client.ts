/**
 * The client: connect, run a session, and with `reconnect` connect again when the server goes
 * away, after a jittered exponential back-off.
 *
 * Input is shared across connections ({@linkcode LineSource}), so every line is sent once: a line
 * typed while disconnected goes out after the reconnect, and a line whose write failed is
 * reported, never silently sent again.
 */

import type { Terminal } from "../terminal.ts";
import { parseFingerprint } from "../transport/certificate.ts";
import { dial } from "../transport/dial.ts";
import { connectPinned, FingerprintMismatchError } from "../transport/pinned_tls.ts";
import { isCertificateError } from "../transport/tls.ts";
import type { Stream } from "../transport/transport.ts";
import { backoffDelay } from "../util/backoff.ts";
import { delay } from "../util/delay.ts";
import { describeNetError, formatAddress } from "../util/net.ts";
import { LineSource } from "./line_source.ts";
import { type ResumeState, session, type SessionEnd } from "./session.ts";

/** rustls's names for what is wrong with a certificate, in words. */
const CERTIFICATE_PROBLEMS: Record<string, string> = {
  UnknownIssuer: "self-signed, or signed by an unknown authority",
  NotValidForName: "not issued for this host name",
  Expired: "expired",
  NotValidYet: "not valid yet",
  BadSignature: "bad signature",
};

/** Between reconnects: 100 ms, doubling, at most 5 s, jittered. */
const RECONNECT_BACKOFF = { initialMs: 100, maxMs: 5000, random: Math.random };

/** A connection could not be made; the message is one sentence for the user. */
export class ConnectError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ConnectError";
  }
}

/** Options for {@linkcode runClient}. */
export interface ClientOptions {
  host: string;
  port: number;
  /** Seconds to wait for the connection; 0 waits as long as the system does. */
  connectTimeout: number;
  /** Seconds to wait for the server to close after input has ended. */
  wait: number;
  /** Print received lines as JSON objects. */
  json: boolean;
  /** Lines to send; when given, the terminal's input is not read. */
  messages: string[];
  /** Connect again when the server goes away. @default {false} */
  reconnect?: boolean;
  /** Give up after this many failed connects in a row; 0 for never. @default {0} */
  reconnectAttempts?: number;
  /** Connect with TLS, verifying the server. @default {false} */
  tls?: boolean;
  /** Files of certificates (PEM) to trust besides the root store. @default {[]} */
  ca?: string[];
  /** Trust only the certificate with this fingerprint (`SHA256:AB:...`); implies TLS. */
  fingerprint?: string;
  /** Connect to this Unix socket instead of `host:port`. */
  unix?: string;
  terminal: Terminal;
}

/** How a client run ended. */
export interface ClientOutcome {
  /**
   * `server closed`: the server closed the connection; `wait expired`: input ended and the server
   * stayed open for `wait`; `interrupted`: Ctrl+C at the prompt; `connection lost`: the
   * connection broke.
   */
  end: SessionEnd;
  /** Whether the last line received was an `ERR` line. */
  lastLineWasError: boolean;
}

/**
 * Connects and runs sessions until one ends for good. Throws {@linkcode ConnectError} when no
 * connection can be made (with `reconnect`, once the attempts are used up), and a `TypeError`,
 * before connecting, when `fingerprint` is not one.
 */
export async function runClient(options: ClientOptions): Promise<ClientOutcome> {
  if (options.fingerprint !== undefined) parseFingerprint(options.fingerprint);
  const { terminal } = options;
  const address = options.unix ?? formatAddress(options.host, options.port);
  const lines = new LineSource(options.messages.length ? options.messages : terminal.lines);
  const interrupted = Promise.withResolvers<"interrupted">();
  terminal.onInterrupt(() => interrupted.resolve("interrupted"));
  const maxAttempts = options.reconnectAttempts ?? 0;
  let failures = 0;
  let connectedBefore = false;
  // With --reconnect, a chat session is asked for and resumed across connections.
  const resume: ResumeState | undefined = options.reconnect ? { seen: new Map() } : undefined;
  try {
    while (true) {
      let conn: Stream;
      try {
        conn = await connect(options, address);
      } catch (error) {
        if (!options.reconnect || !(error instanceof ConnectError)) throw error;
        failures++;
        if (maxAttempts > 0 && failures >= maxAttempts) {
          throw new ConnectError(`${error.message}; gave up after ${failures} attempts`, { cause: error });
        }
        const waited = await pause(failures, error.message, interrupted.promise, terminal);
        if (waited === "interrupted") return { end: "interrupted", lastLineWasError: false };
        continue;
      }
      failures = 0;
      const howToQuit = terminal.interactive && options.messages.length === 0;
      terminal.status(
        `${connectedBefore ? "reconnected" : "connected"} to ${address}` +
          (howToQuit ? "; type . alone on a line to quit (.. sends a .)" : ""),
      );
      connectedBefore = true;
      const outcome = await session(conn, { ...options, lines, interrupted: interrupted.promise, resume });
      const serverWentAway = outcome.end === "server closed" || outcome.end === "connection lost";
      if (!options.reconnect || !serverWentAway || lines.ended) return outcome;
      failures++;
      const waited = await pause(failures, "the server went away", interrupted.promise, terminal);
      if (waited === "interrupted") return { end: "interrupted", lastLineWasError: outcome.lastLineWasError };
    }
  } finally {
    terminal.close();
  }
}

/** Reads the `--ca` files the options name. */
async function caCertificates(options: ClientOptions): Promise<string[]> {
  return await Promise.all((options.ca ?? []).map(async (path) => {
    try {
      return await Deno.readTextFile(path);
    } catch (error) {
      throw new ConnectError(`cannot read the CA certificate ${path}: ${describeNetError(error)}`, {
        cause: error,
      });
    }
  }));
}

async function connect(options: ClientOptions, address: string): Promise<Stream> {
  try {
    const { host, port, fingerprint, unix, tls } = options;
    const caCerts = tls && fingerprint === undefined ? await caCertificates(options) : undefined;
    return await dial({
      host,
      port,
      unix,
      fingerprint,
      tls,
      caCerts,
      timeoutMs: options.connectTimeout * 1000,
    });
  } catch (error) {
    if (error instanceof ConnectError) throw error;
    if (error instanceof FingerprintMismatchError) {
      throw new ConnectError(`cannot connect to ${address}: ${error.message}; nothing was sent`, {
        cause: error,
      });
    }
    if (options.tls && isCertificateError(error)) throw await untrusted(options, address, error);
    const hint = error instanceof Deno.errors.ConnectionRefused && !options.reconnect
      ? " (is the server running? start one with: deno task server)"
      : "";
    throw new ConnectError(`cannot connect to ${address}: ${describeNetError(error)}${hint}`, {
      cause: error,
    });
  }
}

/**
 * The sentence for a server whose certificate nobody this client trusts vouches for: it names the
 * certificate's fingerprint (learned by a second handshake that sends nothing), so that the user
 * can compare it with the one the server logged and pin it.
 */
async function untrusted(options: ClientOptions, address: string, error: unknown): Promise<ConnectError> {
  const presented = await connectPinned({ host: options.host, port: options.port }).then((connection) => {
    connection.stream.close();
    return connection.presented;
  }, () => undefined);
  const code = error instanceof Error
    ? /invalid peer certificate: (\w+)/i.exec(error.message)?.[1]
    : undefined;
  const reason = code === undefined ? "" : CERTIFICATE_PROBLEMS[code] ?? code;
  const pin = presented === undefined
    ? "pin the fingerprint the server logged with --fingerprint SHA256:..."
    : `if ${presented} is the fingerprint the server logged, connect with --fingerprint ${presented}`;
  return new ConnectError(
    `cannot connect to ${address}: its TLS certificate is not signed by an authority this client trusts` +
      `${reason ? ` (${reason})` : ""}; ${pin}`,
    { cause: error },
  );
}

/** Tells the user a reconnect is coming and waits for it (or for Ctrl+C). */
async function pause(
  attempt: number,
  why: string,
  interrupted: Promise<"interrupted">,
  terminal: Terminal,
): Promise<"waited" | "interrupted"> {
  const ms = backoffDelay(attempt, RECONNECT_BACKOFF);
  terminal.status(`${why}; reconnecting in ${(ms / 1000).toFixed(1)} s (attempt ${attempt})`);
  const stop = new AbortController();
  const waited = delay(ms, { signal: stop.signal, unref: true }).then(() => "waited" as const);
  const result = await Promise.race([waited, interrupted]);
  stop.abort();
  return result;
}
