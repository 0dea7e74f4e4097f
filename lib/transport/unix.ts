/**
 * Unix domain sockets, both ends (Linux and macOS). A socket file is a door on the file system:
 * whoever may open it may connect, so the server creates it with mode 0600 (or the mode asked
 * for) before anyone can reach it, replaces a stale one that a crashed server left behind, refuses
 * to take over one that a live server still answers on, and removes it when it stops listening.
 */

import type { Listener, Stream } from "./transport.ts";

/** Options for {@linkcode listenUnix}. */
export interface UnixListenOptions {
  /** Where the socket file goes. */
  path: string;
  /** Its permissions. @default {0o600} */
  mode?: number;
}

/** The socket file is held by a server that answers on it. */
export class SocketInUseError extends Error {
  constructor(readonly path: string) {
    super(`${path} is in use by a running server`);
    this.name = "SocketInUseError";
  }
}

/** Whether a server answers on the socket at `path`; a stale socket file is removed. */
async function clearStaleSocket(path: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  if (!info.isSocket) throw new TypeError(`${path} exists and is not a socket; it is left alone`);
  try {
    (await Deno.connect({ transport: "unix", path })).close();
  } catch (error) {
    if (!(error instanceof Deno.errors.ConnectionRefused)) throw error;
    await Deno.remove(path); // Nobody answers: a crashed server's leftover.
    return;
  }
  throw new SocketInUseError(path);
}

/**
 * Listens on a Unix socket at `options.path`. The socket is bound under a temporary name beside
 * it, given its mode, and only then renamed into place, so that nobody can connect while its
 * permissions are still the default ones. Throws {@linkcode SocketInUseError} when a live server
 * holds the path.
 */
export async function listenUnix(options: UnixListenOptions): Promise<Listener> {
  const { path, mode = 0o600 } = options;
  await clearStaleSocket(path);
  const staging = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  const listener = Deno.listen({ transport: "unix", path: staging });
  try {
    await Deno.chmod(staging, mode);
    await Deno.rename(staging, path);
  } catch (error) {
    listener.close();
    await Deno.remove(staging).catch(() => {/* never created, or gone */});
    throw error;
  }
  return {
    addr: { transport: "unix", path },
    transport: "unix",
    accept: () => listener.accept(),
    close() {
      listener.close();
      try {
        Deno.removeSync(path);
      } catch {
        // Someone removed it already; nothing to clean up.
      }
    },
  };
}

/** Connects to the Unix socket at `path`. */
export function connectUnix(path: string): Promise<Stream> {
  return Deno.connect({ transport: "unix", path });
}
