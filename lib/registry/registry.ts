/**
 * The registry seam: who may connect, what each connection is called, and which chat names are
 * taken. One process uses {@linkcode MemoryRegistry}; the workers of `--workers` share a
 * `SharedRegistry` in shared memory, so that `--max-conns 100` means 100 in all and no two workers
 * hand out the same id or name.
 *
 * Admission and ids are synchronous: they happen on every accept. Name operations may answer with
 * a promise, because a registry shared with other machines has to ask them; a local one answers at
 * once.
 */

import type { Awaitable } from "../util/awaitable.ts";

/** Why a connection was turned away. */
export type Refusal = "server full" | "too many connections from one address";

/** A name and the connection that holds it. */
export interface Holder {
  name: string;
  owner: number;
}

/** Chat names, unique by their key (`protocol/names.ts`), each held by one connection id. */
export interface Names {
  /**
   * Makes `owner` the holder of `name` unless another holds it (under the same key); says whether `owner`
   * holds it now. An owner that already held it takes the new spelling (`bob` may become `Bob`).
   */
  claim(name: string, owner: number): Awaitable<boolean>;
  /** Gives `name` up if `owner` holds it. Never rejects: a failure is the registry's to log. */
  release(name: string, owner: number): Awaitable<void>;
  /** Every name held, with its holder, in the order the holders connected. */
  list(): Awaitable<Holder[]>;
  /** How many names are held. */
  count(): Awaitable<number>;
  /** The connection that holds `name` (under its key) now, wherever it is served; none if nobody. */
  holder(name: string): Awaitable<number | undefined>;
  /**
   * Hands `name` from the connection `from` (`node|id`, served anywhere) to `owner`, keeping its
   * claim's age: a session resumed on another server comes back under its name. Says whether the
   * name was held by `from` (`kept`), held by nobody and now claimed (`free`: its holder's leave
   * was told), or `taken` by someone else. A registry of one server has no such thing.
   */
  takeOver?(name: string, owner: number, from: string): Awaitable<"kept" | "free" | "taken">;
  /**
   * From now on, `events` hears of names that changed hands without their holders asking: only a
   * registry shared with other servers has such news, so a local one may leave this out.
   */
  watch?(events: NameEvents): void;
}

/** News from a registry shared with other servers. */
export interface NameEvents {
  /**
   * `owner` no longer holds `name`: while the link to the others was down, someone elsewhere who
   * claimed it first took it.
   */
  lost(name: string, owner: number): void;
  /**
   * The holders of `names` left: the server that served them stopped without saying so (or left
   * while this one could not hear it). `rooms` says, by name, which rooms each was in, where known.
   */
  departed(names: string[], rooms?: ReadonlyMap<string, string[]>): void;
  /** The room had counted the holders of `names`, served here, as gone; they are back. */
  returned(names: string[]): void;
}

/** Connection ids, admission limits and chat names. */
export interface Registry {
  /** Most connections at once. */
  readonly maxConns: number;
  /** Most connections at once from one address; 0 for no limit. */
  readonly maxConnsPerIp: number;
  /** Chat names. */
  readonly names: Names;
  /** A connection id never handed out before, from 1. */
  nextId(): number;
  /** Takes a place for a connection from `ip` (`undefined` for a Unix socket), or says why not. */
  admit(ip: string | undefined): Refusal | undefined;
  /** Gives back the place an admitted connection from `ip` held. */
  release(ip: string | undefined): void;
}

/** The limits a registry enforces. */
export interface RegistryLimits {
  /** Most connections at once. @default {10000} */
  maxConns?: number;
  /** Most connections at once from one address; 0 for no limit. @default {0} */
  maxConnsPerIp?: number;
}

/** The message a refused client gets, after `ERR `. */
export function describeRefusal(refusal: Refusal, registry: Registry, ip: string | undefined): string {
  return refusal === "server full"
    ? `server full (max ${registry.maxConns} connections)`
    : `too many connections from ${ip} (max ${registry.maxConnsPerIp})`;
}
