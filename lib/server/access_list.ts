/**
 * Who may connect: `--allow` and `--deny` lists of addresses and CIDR blocks, IPv4 and IPv6, as
 * in ncat. A peer is refused when a deny entry matches it, or when there are allow entries and
 * none matches it. An IPv6 form that carries an IPv4 address (mapped `::ffff:a.b.c.d`, as a
 * dual-stack listener reports IPv4 peers; compatible `::a.b.c.d`; NAT64 `64:ff9b::a.b.c.d`) is
 * folded to that IPv4 address, in entries and peers alike, so `10.0.0.0/8` covers all of them and
 * `::ffff:10.0.0.0/104` is `10.0.0.0/8`. Unix-socket peers have no address; the socket file's
 * permissions guard them.
 *
 * Pure: parsing and matching, no I/O. Reading the list files is the caller's job.
 */

import { parseIp } from "../util/ip.ts";

/** An entry that is neither an address nor a CIDR block; the message names it. */
export class AccessEntryError extends Error {
  constructor(readonly entry: string) {
    super(`"${entry}" is not an IP address or a CIDR block such as 10.0.0.0/8 or fd00::/8`);
    this.name = "AccessEntryError";
  }
}

interface Block {
  bytes: Uint8Array;
  bits: number;
}

function parseBlock(entry: string): Block {
  const [address, prefix, ...rest] = entry.split("/");
  const bytes = parseIp(address);
  if (bytes === undefined || rest.length > 0) throw new AccessEntryError(entry);
  // The prefix counts the bits of the address as written: up to 128 for an IPv6 form.
  const written = address.includes(":") ? 128 : 32;
  if (prefix !== undefined && !(/^\d{1,3}$/.test(prefix) && Number(prefix) <= written)) {
    throw new AccessEntryError(entry);
  }
  // An IPv4 block written in an IPv6 form (::ffff:10.0.0.0/104) is the IPv4 block it carries; a
  // prefix shorter than the form's 96 bits would reach past it into IPv6, and is refused.
  const bits = prefix === undefined ? bytes.length * 8 : Number(prefix) - (written - bytes.length * 8);
  if (bits < 0) throw new AccessEntryError(entry);
  return { bytes, bits };
}

function contains(block: Block, ip: Uint8Array): boolean {
  if (block.bytes.length !== ip.length) return false;
  const whole = block.bits >> 3;
  for (let i = 0; i < whole; i++) if (block.bytes[i] !== ip[i]) return false;
  const rest = block.bits & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (block.bytes[whole] & mask) === (ip[whole] & mask);
}

/**
 * The entries of `list`, comma-separated ("a, b" or "a,b"), each checked: throws
 * {@linkcode AccessEntryError} naming the first that is neither an address nor a CIDR block.
 */
export function checkedEntries(list: string): string[] {
  const entries = list.split(",").map((entry) => entry.trim()).filter((entry) => entry !== "");
  for (const entry of entries) parseBlock(entry);
  return entries;
}

/** The entries of a list file: one per line, `#` starts a comment, blank lines are skipped. */
export function listFileEntries(text: string): string[] {
  return text.split("\n").map((line) => line.replace(/#.*/, "").trim()).filter((line) => line !== "");
}

/** Options for {@linkcode AccessList}. */
export interface AccessListOptions {
  /** Entries that alone may connect; none means everyone not denied. */
  allow?: string[];
  /** Entries that may not connect. */
  deny?: string[];
}

/** Decides which peers may connect. */
export class AccessList {
  #allow: Block[];
  #deny: Block[];

  /** Throws {@linkcode AccessEntryError} naming the first bad entry. */
  constructor(options: AccessListOptions) {
    // "a, b" and "a,b" alike: a list may be comma-separated within one flag.
    const blocks = (entries: string[] = []) => entries.flatMap(checkedEntries).map(parseBlock);
    this.#allow = blocks(options.allow);
    this.#deny = blocks(options.deny);
  }

  /** Whether the list restricts anything at all. */
  get empty(): boolean {
    return this.#allow.length === 0 && this.#deny.length === 0;
  }

  /**
   * Why a peer at `ip` may not connect (`denied` by a deny entry, `not allowed` by the allow
   * list, or an address that cannot be read), or `undefined` when it may. A peer with no address
   * (a Unix socket) may.
   */
  refuses(ip: string | undefined): "denied" | "not allowed" | undefined {
    if (ip === undefined) return undefined;
    const bytes = parseIp(ip);
    // An address that cannot be read cannot be shown not to be denied: any list refuses it.
    if (bytes === undefined) return this.empty ? undefined : "not allowed";
    if (this.#deny.some((block) => contains(block, bytes))) return "denied";
    if (this.#allow.length > 0 && !this.#allow.some((block) => contains(block, bytes))) return "not allowed";
    return undefined;
  }
}

/** A ban: an address or block refused until a time. */
export interface Ban {
  /** The address or CIDR block, as given. */
  entry: string;
  /** Until when, in milliseconds since the epoch. */
  until: number;
}

/**
 * Addresses the chat's operator banned (`/ban`), each until a time: refused at the door like a
 * `--deny` entry, beside the access list, and forgotten once their time is up.
 */
export class Bans {
  #bans = new Map<string, { block: Block; until: number }>();

  /** Bans `entry` (an address or CIDR block) until `until`; throws {@linkcode AccessEntryError}. */
  add(entry: string, until: number): void {
    this.#bans.set(entry, { block: parseBlock(entry), until });
  }

  /** Lifts the ban on `entry`; says whether there was one. */
  remove(entry: string): boolean {
    return this.#bans.delete(entry);
  }

  /** Whether a peer at `ip` is banned at `now`. */
  refuses(ip: string | undefined, now = Date.now()): boolean {
    if (ip === undefined || this.#bans.size === 0) return false;
    const bytes = parseIp(ip);
    if (bytes === undefined) return false;
    for (const [entry, { block, until }] of this.#bans) {
      if (until <= now) this.#bans.delete(entry);
      else if (contains(block, bytes)) return true;
    }
    return false;
  }

  /** The bans in force at `now`. */
  entries(now = Date.now()): Ban[] {
    return [...this.#bans].filter(([, { until }]) => until > now).map(([entry, { until }]) => ({
      entry,
      until,
    }));
  }
}
