/**
 * What SIGHUP changes without a restart: the access lists (`--allow`, `--deny` and their files)
 * and the TLS certificate (`--tls-cert`, `--tls-key`), read again as they are now, and the chat's
 * transcript, reopened (after logrotate moved it away). All or nothing:
 * everything is read and checked first, each listener opens its new certificate beside the old
 * one, and only then does anything change; a failure is one sentence and the old settings stay.
 * New connections get the new settings; open ones keep theirs.
 */

import { AccessList, type AccessListOptions } from "../server/access_list.ts";
import type { Server } from "../server/serve.ts";
import type { FileTranscript } from "../server/transcript.ts";
import { describeNetError } from "../util/net.ts";
import {
  checkIdentity,
  holdsCertificate,
  type PreparedIdentity,
  type TlsIdentity,
} from "../transport/tls.ts";
import type { Listener } from "../transport/transport.ts";
import type { ServerConfig } from "./cli/server_flags.ts";
import { accessEntries, certificateFiles } from "./plan.ts";

/** The settings SIGHUP reloads, read and checked: plain data, so that it can be posted to a worker. */
export interface Reloaded {
  access: AccessListOptions;
  /** The certificate, when the server serves one from files. */
  identity?: TlsIdentity;
}

/** Reads what `config` names again; rejects with one sentence when anything cannot be used. */
export async function readReload(config: ServerConfig): Promise<Reloaded> {
  try {
    const access = await accessEntries(config);
    const identity = await certificateFiles(config);
    if (identity !== undefined) checkIdentity(identity);
    return { access, identity };
  } catch (error) {
    throw new Error(error instanceof Error ? error.message : String(error), { cause: error });
  }
}

/** What a reload changes: a server, its listeners and its transcript. */
export interface Reloadable {
  server: Server;
  listeners: Listener[];
  transcript?: FileTranscript;
}

/**
 * Puts `reloaded` in force for `target`, and reopens its transcript; resolves with what the log
 * says. Rejects, with nothing changed, when the transcript cannot be opened again or a listener
 * cannot take the new certificate.
 */
export async function applyReload(target: Reloadable, reloaded: Reloaded): Promise<string> {
  const { server, listeners, transcript } = target;
  const { access, identity } = reloaded;
  // Reopening the same path changes nothing anyone sees, so it may go first.
  if (transcript !== undefined) {
    await transcript.reopen().catch((error) => {
      throw new Error(`cannot reopen the transcript ${transcript.path}: ${describeNetError(error)}`, {
        cause: error,
      });
    });
  }
  const prepared: PreparedIdentity[] = [];
  if (identity !== undefined) {
    try {
      for (const listener of listeners.filter(holdsCertificate)) prepared.push(listener.prepare(identity));
    } catch (error) {
      for (const ready of prepared) ready.cancel();
      throw new Error(`cannot use the new certificate: ${error instanceof Error ? error.message : error}`, {
        cause: error,
      });
    }
  }
  for (const ready of prepared) ready.commit();
  server.setAccess(new AccessList(access));
  return describeReload(reloaded, transcript !== undefined);
}

/** `reloaded the access lists (2 entries) and the certificate SHA256:...; reopened the transcript`. */
export function describeReload({ access, identity }: Reloaded, transcript: boolean): string {
  const count = (access.allow?.length ?? 0) + (access.deny?.length ?? 0);
  const lists = `reloaded the access lists (${count} ${count === 1 ? "entry" : "entries"})`;
  return (identity === undefined ? lists : `${lists} and the certificate ${identity.fingerprint}`) +
    (transcript ? "; reopened the transcript" : "");
}
