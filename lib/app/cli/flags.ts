/**
 * The flag engine of both programs: a table of flags, keyed by config property, drives parsing,
 * conversion, defaults and `--help`, and the config's type is derived from the same table
 * ({@linkcode Values}), so the help, the parser and the types cannot disagree.
 *
 * Each flag converts its raw text to its final value as it is read (a port to a number, a Redis
 * URL to its parts, a list of origins to normalized ones), and a bad value is one sentence naming
 * the flag ({@linkcode UsageError}). What depends on several flags is checked by each program after
 * parsing (`server_flags.ts`, `client_flags.ts`).
 *
 * Pure: parsing returns a config or throws; the entry points decide what to print and which exit
 * code to use.
 */

import { parseArgs } from "node:util";
import denoConfig from "../../../deno.json" with { type: "json" };

/** The version in `deno.json`, embedded when compiled. */
export const VERSION: string = denoConfig.version;

/** Bad command-line input; its message is one sentence naming the flag. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** One flag: how it is written, what `--help` says of it, and how its raw text becomes `T`. */
export interface Flag<T> {
  /** The flag's name after `--`. @default {the config key, kebab-cased} */
  readonly name?: string;
  /** A one-letter alias, as ncat users type it: `-p 2005`. */
  readonly short?: string;
  /** Placeholder in `--help`, e.g. `HOST`; absent for a switch, which takes no value. */
  readonly value?: string;
  readonly help: string;
  /** The value when the flag is not given. */
  readonly default: T;
  /** How `--help` shows the default; absent: not shown. */
  readonly shown?: string;
  /** The value of the flag given with `raws` (every value, in order; a switch gets `[]`). */
  read(raws: string[], flag: string): T;
}

/** A table of flags, by config key. */
export type FlagTable = Record<string, Flag<unknown>>;

/** The config a table parses into: each key with its flag's value type. */
export type Values<T extends FlagTable> = { [K in keyof T]: T[K] extends Flag<infer V> ? V : never };

/** What a command line asks for. */
export type Command<Config> = { kind: "run"; config: Config } | { kind: "help" } | { kind: "version" };

/** Turns one raw value into a `T`, or throws a {@linkcode UsageError} naming `flag`. */
export type Convert<T> = (raw: string, flag: string) => T;

/** How a flag that takes a value is written and described. */
interface Described {
  value: string;
  help: string;
  short?: string;
  /** @default {the config key, kebab-cased} */
  name?: string;
}

/** A switch: `--quiet` is true, absent is false. */
export function toggle(help: string): Flag<boolean> {
  return { help, default: false, read: () => true };
}

/** A flag with one value (the last, if given twice), or `fallback` when absent. */
export function one<const T>(
  convert: Convert<T>,
  options: Described & { default: T; show?: (value: T) => string },
): Flag<T>;
/** A flag with one value (the last, if given twice), or `undefined` when absent. */
export function one<const T>(convert: Convert<T>, options: Described): Flag<T | undefined>;
export function one<const T>(
  convert: Convert<T>,
  options: Described & { default?: T; show?: (value: T) => string },
): Flag<T | undefined> {
  const { show = String } = options;
  return {
    ...options,
    default: options.default,
    shown: options.default === undefined ? undefined : show(options.default),
    read: (raws, flag) => convert(raws[raws.length - 1], flag),
  };
}

/** A repeatable flag: every value given, in order; each raw value may stand for several. */
export function many<T>(convert: Convert<T[]>, options: Described): Flag<T[]> {
  return { ...options, default: [], read: (raws, flag) => raws.flatMap((raw) => convert(raw, flag)) };
}

/** The meta flags every program has. */
const META: Record<"help" | "version", Flag<boolean>> = {
  help: { ...toggle("show this help"), short: "h" },
  version: { ...toggle("print the version"), short: "V" },
};

/** The flag name of `key` in `table`. */
function nameOf(key: string, flag: Flag<unknown>): string {
  return flag.name ?? key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** Parses `args` against `table`. Throws {@linkcode UsageError}. */
export function parseFlags<T extends FlagTable>(args: string[], table: T): Command<Values<T>> {
  const all = Object.entries({ ...table, ...META }).map(([key, flag]) => ({
    key,
    name: nameOf(key, flag),
    flag,
  }));
  let parsed;
  try {
    parsed = parseArgs({
      args: normalize(args, all),
      strict: true,
      allowPositionals: false,
      options: Object.fromEntries(all.map(({ name, flag }) => [
        name,
        flag.value === undefined ? { type: "boolean" as const } : { type: "string" as const, multiple: true },
      ])),
    });
  } catch (error) {
    throw new UsageError(explainParseError(error, all));
  }
  const values = parsed.values as Record<string, string[] | boolean | undefined>;
  if (values.help) return { kind: "help" };
  if (values.version) return { kind: "version" };
  const given = (name: string, flag: Flag<unknown>) => {
    const raw = values[name];
    return raw === undefined ? flag.default : flag.read(Array.isArray(raw) ? raw : [], `--${name}`);
  };
  const entries = all.filter(({ key }) => !(key in META)).map((
    { key, name, flag },
  ) => [key, given(name, flag)]);
  // The one cast of the engine: each key of the table gets the value its own flag read, which is
  // what Values<T> says of it.
  const config = Object.fromEntries(entries) as Values<T>;
  return { kind: "run", config };
}

/**
 * Rewrites `args` for `parseArgs`: one-letter aliases become long flags, a flag that takes a value
 * takes the next argument whatever it looks like (`--port -1` is a bad port, not a missing value;
 * `--message -x` sends "-x"), and `--` is dropped wherever it is (`deno task server -- --port 1`
 * passes it along; no flag takes positional arguments).
 */
function normalize(args: string[], all: { name: string; flag: Flag<unknown> }[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") continue;
    const found = all.find(({ name, flag }) =>
      arg === `--${name}` || (flag.short !== undefined && arg === `-${flag.short}`)
    );
    if (found === undefined) out.push(arg);
    else if (found.flag.value === undefined) out.push(`--${found.name}`);
    else if (i + 1 < args.length) out.push(`--${found.name}=${args[++i]}`);
    else out.push(`--${found.name}`);
  }
  return out;
}

function explainParseError(error: unknown, all: { name: string; flag: Flag<unknown> }[]): string {
  const code = (error as { code?: string }).code;
  const message = error instanceof Error ? error.message : String(error);
  const given = /'(-[^' ]*)/.exec(message)?.[1] ?? /'([^']*)'/.exec(message)?.[1] ?? "";
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return `unknown flag ${given}`;
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return `unexpected argument "${given}" (flags start with --)`;
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE": {
      const found = all.find(({ name }) => given === `--${name}`);
      return found?.flag.value === undefined ? `${given} takes no value` : `${given} needs a value`;
    }
    default:
      return message;
  }
}

/** `--help` of `program`: a line about it, the usage, and one row per flag. */
export function formatHelp(program: string, summary: string, table: FlagTable): string {
  const rows = Object.entries({ ...table, ...META }).map(([key, flag]) => {
    const left = `--${nameOf(key, flag)}${flag.short ? `, -${flag.short}` : ""}${
      flag.value ? ` ${flag.value}` : ""
    }`;
    const shown = flag.shown === undefined ? "" : ` (default: ${flag.shown})`;
    return [left, `${flag.help}${shown}`];
  });
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  return [
    `${program} ${VERSION}: ${summary}`,
    "",
    `Usage: ${program} [flags]`,
    "",
    "Flags:",
    ...rows.map(([left, right]) => `  ${left.padEnd(width)}${right}`),
  ].join("\n");
}
