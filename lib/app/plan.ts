/**
 * From a command line's settings to a plan: where to listen (TCP, TLS with the given certificate
 * or a new self-signed one, a Unix socket), who may connect (allow and deny lists, from flags and
 * files), how to serve, and which backend, all as plain data that can be posted to a worker. Every
 * file is read here, so what can go wrong with one is said before anything listens:
 * {@linkcode StartError} (exit 1) or, for a bad list entry, `UsageError` (exit 2).
 */

import {
  AccessEntryError,
  type AccessListOptions,
  checkedEntries,
  listFileEntries,
} from "../server/access_list.ts";
import type { ServeSettings } from "../server/serve.ts";
import { fingerprint, pemToDer, selfSignedCertificate } from "../transport/certificate.ts";
import type { ListenSpec } from "../transport/listen.ts";
import type { TlsIdentity } from "../transport/tls.ts";
import { describeNetError } from "../util/net.ts";
import type { WebListenOptions } from "../web/listener.ts";
import type { BackendPlan } from "./backends.ts";
import { UsageError } from "./cli/flags.ts";
import type { ServerConfig } from "./cli/server_flags.ts";

/** The server cannot start; the message is one sentence for the user. */
export class StartError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StartError";
  }
}

/** One server (or each worker of one), as plain data. */
export interface ServerPlan {
  listen: ListenSpec;
  /** `--web`: where browsers connect. */
  web?: WebListenOptions;
  /** Who may connect. */
  access: AccessListOptions;
  settings: ServeSettings;
  backend: BackendPlan;
  /** `--transcript`: the file every line said is appended to, and whether private messages go too. */
  transcript?: { path: string; private: boolean };
}

/** Reads every file `config` names and plans the server it describes. */
export async function planServer(config: ServerConfig): Promise<ServerPlan> {
  const redis = config.redis && config.redisCa !== undefined
    ? { ...config.redis, ca: await readFile(config.redisCa, "Redis CA certificate") }
    : config.redis;
  const listen = await listenSpec(config);
  return {
    listen,
    web: webSpec(config, listen),
    access: await accessEntries(config),
    settings: serveSettings(config),
    backend: {
      history: config.history,
      redis,
      sessions: config.mode === "chat" && config.resumeWindow > 0
        ? { windowMs: config.resumeWindow * 1000, maxBytes: config.resumeBuffer }
        : undefined,
    },
    transcript: config.transcript === undefined
      ? undefined
      : { path: config.transcript, private: config.transcriptPrivate === "yes" },
  };
}

async function readFile(path: string, what: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    throw new StartError(`cannot read the ${what} ${path}: ${describeNetError(error)}`, { cause: error });
  }
}

/** How every connection is served, from the flags. */
function serveSettings(config: ServerConfig): ServeSettings {
  const { mode, maxLine, maxQueue, drainTimeout, idleTimeout, lineTimeout, handshakeTimeout } = config;
  const timeouts = { drainTimeout, idleTimeout, lineTimeout, handshakeTimeout };
  const chat = {
    room: config.room,
    maxRooms: config.maxRooms,
    resumeWindow: config.resumeWindow,
    resumeBuffer: config.resumeBuffer,
  };
  return { mode, maxLine, maxQueue, ...timeouts, rate: config.rate, rateKick: config.rateKick, ...chat };
}

/** The `--allow` and `--deny` entries of the flags and of the files they name. */
export async function accessEntries(config: ServerConfig): Promise<AccessListOptions> {
  const fromFiles = async (paths: string[], flag: string) => {
    const entries: string[] = [];
    for (const path of paths) {
      const text = await readFile(path, `${flag} file`);
      try {
        entries.push(...listFileEntries(text).flatMap(checkedEntries));
      } catch (error) {
        if (error instanceof AccessEntryError) throw new UsageError(`${flag} ${path}: ${error.message}`);
        throw error;
      }
    }
    return entries;
  };
  return {
    allow: [...config.allow, ...await fromFiles(config.allowFile, "--allow-file")],
    deny: [...config.deny, ...await fromFiles(config.denyFile, "--deny-file")],
  };
}

/** Where to listen: a Unix socket, TLS (with the certificate given, or a new one), or TCP. */
async function listenSpec(config: ServerConfig): Promise<ListenSpec> {
  if (config.unix !== undefined) return { transport: "unix", path: config.unix, mode: config.unixMode };
  const tcp = { host: config.host, port: config.port, backlog: config.backlog, reusePort: config.reusePort };
  if (!config.tls) return { transport: "tcp", ...tcp };
  const identity = await certificateFiles(config);
  if (identity !== undefined) return { transport: "tls", ...tcp, ...identity };
  const hosts = [config.host, ...(config.web === undefined ? [] : [config.web.host])];
  return { transport: "tls", ...tcp, ...await selfSignedCertificate({ hosts }) };
}

/** `--tls-cert` and `--tls-key` as they are now, with the certificate's fingerprint; none without them. */
export async function certificateFiles(config: ServerConfig): Promise<TlsIdentity | undefined> {
  if (config.tlsCert === undefined || config.tlsKey === undefined) return undefined;
  const cert = await readFile(config.tlsCert, "TLS certificate");
  const key = await readFile(config.tlsKey, "TLS key");
  let der;
  try {
    der = pemToDer(cert);
  } catch {
    throw new StartError(`cannot use the TLS certificate ${config.tlsCert}: it holds no PEM certificate`);
  }
  return { cert, key, fingerprint: await fingerprint(der) };
}

/** Where browsers connect (`--web`): TLS too when the server has it. */
function webSpec(config: ServerConfig, spec: ListenSpec): WebListenOptions | undefined {
  if (config.web === undefined) return undefined;
  const { cert, key, fingerprint } = spec.transport === "tls" ? spec : {};
  return {
    ...config.web,
    backlog: config.backlog,
    reusePort: config.reusePort,
    tls: cert === undefined ? undefined : { cert, key: key!, fingerprint: fingerprint! },
    maxLine: config.maxLine,
    origins: config.webOrigin,
    hosts: config.webHost,
  };
}
