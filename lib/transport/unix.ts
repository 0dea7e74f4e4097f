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
 * Listens on a Unix socket at `options.path`. The socket is bound in a new private directory (mode
 * 0700) beside the path, given its mode there, and only then renamed into place: nobody can reach
 * it while its permissions are still the umask's, and since nobody else can write in that
 * directory, no symlink there can redirect the chmod. The rename replaces whatever is at the path
 * without following it. Throws {@linkcode SocketInUseError} when a live server holds the path; any
 * other error names the path asked for, never the private directory.
 */
export async function listenUnix(options: UnixListenOptions): Promise<Listener> {
  const { path, mode = 0o600 } = options;
  await clearStaleSocket(path);
  const slash = path.lastIndexOf("/");
  const dir = slash === -1 ? "." : slash === 0 ? "/" : path.slice(0, slash);
  let staging: string | undefined;
  let listener: Deno.Listener | undefined;
  try {
    const privateDir = await Deno.makeTempDir({ dir, prefix: ".parley-" });
    staging = `${privateDir}/socket`;
    listener = Deno.listen({ transport: "unix", path: staging });
    await Deno.chmod(staging, mode);
    await Deno.rename(staging, path);
    await Deno.remove(privateDir);
  } catch (error) {
    listener?.close();
    if (staging !== undefined) {
      await Deno.remove(staging.slice(0, -"/socket".length), { recursive: true }).catch(() => {/* gone */});
    }
    // The user asked for `path`: the directory and the staging names are ours to hide.
    if (error instanceof Error) {
      error.message = error.message.replace(/[^"'\s]*\.parley-[^"'\s]*/g, path).replaceAll(
        `"${dir}"`,
        `"${path}"`,
      );
    }
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
