/**
 * How the raw text of a flag becomes its value, one converter per kind of value: each returns the
 * value or throws a {@linkcode UsageError} that names the flag and quotes what was given.
 */

import { type Convert, UsageError } from "./flags.ts";

/** Text as given. */
export const text: Convert<string> = (raw) => raw;

/** Text as given, for a repeatable flag: each time it is given adds one value. */
export const texts: Convert<string[]> = (raw) => [raw];

/** An address or a host name; `[::1]`, as written next to a port, stands for `::1`. */
export const host: Convert<string> = (raw, flag) => {
  const name = /^\[(.*)\]$/.exec(raw)?.[1] ?? raw;
  if (name === "") throw new UsageError(`${flag} needs an address or a host name, got ""`);
  return name;
};

/** One of `choices`. */
export function choice<const C extends string>(choices: readonly C[]): Convert<C> {
  return (raw, flag) => {
    const found = choices.find((c) => c === raw);
    if (found === undefined) {
      throw new UsageError(`${flag} must be one of ${choices.join(", ")}, got "${raw}"`);
    }
    return found;
  };
}

/** A TCP port, 0 to 65535, in at most 5 digits. */
export const port: Convert<number> = (raw, flag) => {
  const value = /^\d{1,5}$/.test(raw) ? Number(raw) : NaN;
  if (!(value <= 65535)) throw new UsageError(`${flag} must be a port number from 0 to 65535, got "${raw}"`);
  return value;
};

/** A whole number from `min`. */
export function count(min = 0): Convert<number> {
  return (raw, flag) => {
    if (!/^\d{1,9}$/.test(raw) || Number(raw) < min) {
      throw new UsageError(`${flag} must be a whole number from ${min}, got "${raw}"`);
    }
    return Number(raw);
  };
}

/** A size in bytes from 1 to 2G: `65536`, `64K`, `1M`, `1MiB`. */
export const bytes: Convert<number> = (raw, flag) => {
  const match = /^(\d{1,12})(?:([kKmMgG])(?:i?B)?|B)?$/.exec(raw);
  const unit = match?.[2]?.toUpperCase();
  const scale = unit === undefined ? 1 : 1024 ** ("KMG".indexOf(unit) + 1);
  const value = match ? Number(match[1]) * scale : NaN;
  if (!(value >= 1 && value <= 2 ** 31)) {
    throw new UsageError(`${flag} must be a size in bytes from 1 to 2G (e.g. 65536, 64K, 1M), got "${raw}"`);
  }
  return value;
};

/** A number of seconds from 0 to a day, with a fraction if wanted. */
export const seconds: Convert<number> = (raw, flag) => {
  const value = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : NaN;
  if (!(value <= 86400)) {
    throw new UsageError(`${flag} must be a number of seconds from 0 to 86400, got "${raw}"`);
  }
  return value;
};

/** A file mode in octal: `600`, `0660`. */
export const octal: Convert<number> = (raw, flag) => {
  if (!/^0?[0-7]{3}$/.test(raw)) {
    throw new UsageError(`${flag} must be an octal mode such as 600, got "${raw}"`);
  }
  return parseInt(raw, 8);
};

/** The entries of a comma-separated list, trimmed. */
export function commaList<T>(convert: Convert<T>): Convert<T[]> {
  return (raw, flag) => raw.split(",").map((entry) => convert(entry.trim(), flag));
}

/** Where something listens: `[HOST:]PORT`; the host, when left out, is `undefined`. */
export interface HostPort {
  host: string | undefined;
  port: number;
}

/** `[HOST:]PORT`: `8080`, `:8080`, `0.0.0.0:8080`, `[::1]:8080`; `example` is the port an error shows. */
export function hostPort(example: number): Convert<HostPort> {
  return (raw, flag) => {
    const match = /^(?:(.*):)?(\d{1,5})$/.exec(raw);
    const host = match?.[1] === undefined || match[1] === ""
      ? undefined
      : match[1].replace(/^\[(.*)\]$/, "$1");
    const value = Number(match?.[2]);
    if (match === null || value > 65535 || host === "") {
      throw new UsageError(
        `${flag} must be [HOST:]PORT, e.g. ${example} or 0.0.0.0:${example}, got ${JSON.stringify(raw)}`,
      );
    }
    return { host, port: value };
  };
}
