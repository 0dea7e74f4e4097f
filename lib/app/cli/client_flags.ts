/**
 * `parley-client`'s flags: the table ({@linkcode CLIENT_FLAGS}), what depends on several flags
 * ({@linkcode parseClientArgs}), and `--help`. {@linkcode ClientConfig} is derived from both.
 */

import { formatFingerprint, normalizeFingerprint } from "../../transport/certificate.ts";
import {
  type Command,
  type Convert,
  formatHelp,
  many,
  one,
  parseFlags,
  toggle,
  UsageError,
  type Values,
} from "./flags.ts";
import { count, host, port, seconds, text, texts } from "./values.ts";

/** A certificate's SHA-256 fingerprint, normalized to `SHA256:AB:CD:...`. */
const fingerprint: Convert<string> = (raw, flag) => {
  const hex = normalizeFingerprint(raw);
  if (hex === undefined) {
    throw new UsageError(`${flag} must be SHA256: and 64 hex digits, as the server logs it, got "${raw}"`);
  }
  return formatFingerprint(hex);
};

/** Every flag of `parley-client`, in `--help`'s order. */
export const CLIENT_FLAGS = {
  host: one(host, { value: "HOST", default: "127.0.0.1", help: "server address" }),
  port: one(port, { short: "p", value: "PORT", default: 2005, help: "server port" }),
  connectTimeout: one(seconds, {
    value: "SECONDS",
    default: 5,
    help: "give up connecting after this long (0: as long as the system tries)",
  }),
  messages: many(texts, {
    name: "message",
    value: "TEXT",
    help: "send this line (repeatable), then stop as if input ended",
  }),
  wait: one(seconds, {
    value: "SECONDS",
    default: 5,
    help: "after input ends, how long to wait for the server's last lines",
  }),
  json: toggle('print each received line as {"time": ..., "text": ...}'),
  reconnect: toggle("when the server goes away, connect again (back-off 0.1 s to 5 s, with jitter)"),
  reconnectAttempts: one(count(0), {
    value: "N",
    default: 0,
    help: "with --reconnect, give up after N failed connects in a row (0: never)",
  }),
  tls: toggle("connect with TLS, verifying the server against the root certificates and --ca"),
  ca: many(texts, { value: "FILE", help: "also trust this certificate (PEM; implies --tls)" }),
  fingerprint: one(fingerprint, {
    value: "SHA256:HEX",
    help: "trust only the certificate with this SHA-256 fingerprint (implies --tls)",
  }),
  unix: one(text, { value: "PATH", help: "connect to the Unix socket at PATH instead of TCP" }),
};

/** Settings of `parley-client`: the table's values, with what depends on several flags settled. */
export type ClientConfig = ReturnType<typeof settle>;

/** Parses `parley-client` arguments. Throws {@linkcode UsageError}. */
export function parseClientArgs(args: string[]): Command<ClientConfig> {
  const command = parseFlags(args, CLIENT_FLAGS);
  return command.kind === "run" ? { kind: "run", config: settle(command.config) } : command;
}

/** Checks what depends on several flags: `--ca` and `--fingerprint` imply `--tls`. */
function settle(flags: Values<typeof CLIENT_FLAGS>) {
  if (flags.reconnectAttempts > 0 && !flags.reconnect) {
    throw new UsageError("--reconnect-attempts needs --reconnect");
  }
  const tls = flags.tls || flags.fingerprint !== undefined || flags.ca.length > 0;
  if (flags.unix !== undefined && tls) throw new UsageError("--tls works over TCP only, not with --unix");
  return { ...flags, tls };
}

/** `parley-client --help`. */
export function clientHelp(): string {
  return formatHelp("parley-client", "talk to a line server from the terminal or a script", CLIENT_FLAGS) +
    "\n\nA line with only . ends the session. Received lines go to stdout, status to stderr.";
}
