/**
 * What SIGHUP changes without a restart: the access lists (`--allow`, `--deny` and their files)
 * and the TLS certificate (`--tls-cert`, `--tls-key`), read again as they are now. All or nothing:
 * everything is read and checked first, each listener opens its new certificate beside the old
 * one, and only then does anything change; a failure is one sentence and the old settings stay.
 * New connections get the new settings; open ones keep theirs.
 */

import type { AccessListOptions } from "../server/access_list.ts";
import { AccessList } from "../server/access_list.ts";
import type { Server } from "../server/serve.ts";
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

/**
 * Puts `reloaded` in force for `server`, whose listeners are `listeners`; resolves with what the log
 * says. Throws, with nothing changed, when a listener cannot take the new certificate.
 */
export function applyReload(server: Server, listeners: Listener[], reloaded: Reloaded): string {
  const { access, identity } = reloaded;
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
  return describeReload(reloaded);
}

/** `reloaded the access lists (2 entries) and the certificate SHA256:...`. */
export function describeReload({ access, identity }: Reloaded): string {
  const count = (access.allow?.length ?? 0) + (access.deny?.length ?? 0);
  const lists = `reloaded the access lists (${count} ${count === 1 ? "entry" : "entries"})`;
  return identity === undefined ? lists : `${lists} and the certificate ${identity.fingerprint}`;
}
