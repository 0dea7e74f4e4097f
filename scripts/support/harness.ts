/**
 * Test support: the real server and client as subprocesses (always `Deno.execPath()`, never a
 * `deno` from PATH), raw TCP clients, and line readers that wait for a specific line with a
 * deadline instead of sleeping. Everything is disposable with `await using`.
 */

import { LineFramer } from "../../lib/protocol/framer.ts";
import { connectPinned } from "../../lib/transport/pinned_tls.ts";
import type { Stream } from "../../lib/transport/transport.ts";
import { writeAll } from "../../lib/util/write.ts";

const ROOT = new URL("../..", import.meta.url);
export const SERVER_PATH = new URL("server.ts", ROOT).pathname;
export const CLIENT_PATH = new URL("client.ts", ROOT).pathname;
/** The server's `lib/`: `--workers` loads its worker module from there at run time. */
export const LIB_PATH = new URL("lib", ROOT).pathname;

/**
 * The permissions `deno task server` or `deno task client` runs with, from deno.json: the tests
 * and the executables run the programs with exactly these.
 */
export function taskPermissions(task: "server" | "client"): string[] {
  const tasks = JSON.parse(Deno.readTextFileSync(new URL("deno.json", ROOT))).tasks as Record<string, string>;
  return tasks[task].split(" ").filter((word) => word.startsWith("--allow-"));
}

/** Tests of Linux facilities (/proc, prlimit, OpenBSD netcat) run only there. */
export const LINUX = Deno.build.os === "linux";
/** Windows has no POSIX signals (SIGTERM, SIGINT to another process) nor bash. */
export const WINDOWS = Deno.build.os === "windows";

/** Default deadline for one expected line. */
export const LINE_TIMEOUT_MS = 10_000;

type Matcher = string | RegExp | ((line: string) => boolean);

function matches(line: string, matcher: Matcher): boolean {
  if (typeof matcher === "string") return line === matcher;
  if (matcher instanceof RegExp) return matcher.test(line);
  return matcher(line);
}

/** Reads a byte stream as lines in the background; tests take them in order with deadlines. */
export class LineReader {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #lines: string[] = [];
  #position = 0;
  #ended = false;
  #changed = Promise.withResolvers<void>();
  #pump: Promise<void>;

  constructor(stream: ReadableStream<Uint8Array>, readonly label = "stream") {
    this.#reader = stream.getReader();
    this.#pump = this.#run();
  }

  /** Every line seen so far, consumed or not. */
  get seen(): readonly string[] {
    return this.#lines;
  }

  async #run(): Promise<void> {
    const decoder = new TextDecoder();
    const framer = new LineFramer(64 * 1024 * 1024);
    try {
      while (true) {
        const { value, done } = await this.#reader.read();
        if (done) break;
        framer.push(value, (line) => this.#lines.push(decoder.decode(line)));
        this.#wake();
      }
    } catch {
      // The stream broke (a reset socket); for a reader of lines that is an end like any other.
    } finally {
      this.#ended = true;
      this.#wake();
    }
  }

  #wake(): void {
    this.#changed.resolve();
    this.#changed = Promise.withResolvers<void>();
  }

  async #waitForChange(deadline: number, what: string): Promise<void> {
    const left = deadline - Date.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const recent = this.#lines.slice(-10).map((l) => `  ${JSON.stringify(l)}`).join("\n");
        reject(new Error(`${this.label}: timed out waiting for ${what}; last lines:\n${recent}`));
      }, Math.max(left, 0));
    });
    try {
      await Promise.race([this.#changed.promise, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The next unconsumed line. Throws at end of stream or after the deadline. */
  async next(timeoutMs = LINE_TIMEOUT_MS): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.#position >= this.#lines.length) {
      if (this.#ended) throw new Error(`${this.label}: ended while a line was expected`);
      await this.#waitForChange(deadline, "a line");
    }
    return this.#lines[this.#position++];
  }

  /** Consumes lines up to and including the first that matches; returns it. */
  async waitFor(matcher: Matcher, timeoutMs = LINE_TIMEOUT_MS): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      while (this.#position < this.#lines.length) {
        const line = this.#lines[this.#position++];
        if (matches(line, matcher)) return line;
      }
      if (this.#ended) throw new Error(`${this.label}: ended before a line matching ${String(matcher)}`);
      await this.#waitForChange(deadline, `a line matching ${String(matcher)}`);
    }
  }

  /** Waits for the end of the stream; returns the lines not yet consumed. */
  async rest(timeoutMs = LINE_TIMEOUT_MS): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#ended) await this.#waitForChange(deadline, "the end of the stream");
    const rest = this.#lines.slice(this.#position);
    this.#position = this.#lines.length;
    return rest;
  }

  /** Stops reading and waits for the background reader to finish. */
  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {/* already closed */});
    await this.#pump;
  }
}

const encoder = new TextEncoder();

/** A raw TCP client for tests. */
/** The bytes of `stream` as a ReadableStream, read as they are asked for. */
function readableOf(stream: Stream): ReadableStream<Uint8Array> {
  return new ReadableStream({
    async pull(controller) {
      const buffer = new Uint8Array(64 * 1024);
      const n = await stream.read(buffer).catch(() => null);
      if (n === null) controller.close();
      else controller.enqueue(buffer.slice(0, n));
    },
    cancel() {
      try {
        stream.close();
      } catch {
        // Closed already.
      }
    },
  });
}

export class TestClient implements AsyncDisposable {
  readonly lines: LineReader;
  #conn: Stream;

  private constructor(conn: Stream, label: string, readable?: ReadableStream<Uint8Array>) {
    this.#conn = conn;
    this.lines = new LineReader(readable ?? readableOf(conn), label);
  }

  /** A client over TLS that trusts only the certificate with `fingerprint`. */
  static async connectPinned(port: number, fingerprint: string, label = "tls client"): Promise<TestClient> {
    const { stream } = await connectPinned({ host: "127.0.0.1", port, fingerprint });
    return new TestClient(stream, label);
  }

  static async connect(
    port: number,
    options: { hostname?: string; label?: string } = {},
  ): Promise<TestClient> {
    const conn = await Deno.connect({ hostname: options.hostname ?? "127.0.0.1", port });
    conn.setNoDelay(true);
    return new TestClient(conn, options.label ?? `client:${conn.localAddr.port}`, conn.readable);
  }

  /** Sends each line followed by `\n`, in one write. */
  send(...lines: string[]): Promise<void> {
    return this.write(lines.map((line) => line + "\n").join(""));
  }

  /** Writes raw text or bytes, all of them. */
  write(data: string | Uint8Array): Promise<void> {
    return writeAll(this.#conn, data);
  }

  /** Half-closes: the server sees the end of input, the client can still read. */
  closeWrite(): Promise<void> {
    return this.#conn.closeWrite();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.#conn.close();
    } catch {
      // The readable stream closes the connection itself when the server closes it.
    }
    await this.lines.cancel();
  }
}

/** Closes every client, one after the other. */
export async function closeAll(clients: readonly TestClient[]): Promise<void> {
  for (const client of clients) await client[Symbol.asyncDispose]();
}

/** Options for {@linkcode spawnProcess}. */
export interface SpawnOptions {
  /** Pipe stdin so the test can type lines. @default {false} */
  stdin?: boolean;
  /** Names its output streams in failure messages. @default {the program} */
  label?: string;
}

/** A running subprocess whose output the test reads line by line, and whose input it types. */
export class ProcessHandle implements AsyncDisposable {
  readonly stdout: LineReader;
  readonly stderr: LineReader;
  #child: Deno.ChildProcess;
  #stdin: WritableStreamDefaultWriter<Uint8Array> | undefined;

  constructor(child: Deno.ChildProcess, options: { stdin: boolean; label: string }) {
    this.#child = child;
    this.stdout = new LineReader(child.stdout, `${options.label} stdout`);
    this.stderr = new LineReader(child.stderr, `${options.label} stderr`);
    this.#stdin = options.stdin ? child.stdin.getWriter() : undefined;
  }

  get pid(): number {
    return this.#child.pid;
  }

  get status(): Promise<Deno.CommandStatus> {
    return this.#child.status;
  }

  /** Types a line (needs `stdin: true`). */
  async type(line: string): Promise<void> {
    await this.#stdin!.write(encoder.encode(line + "\n"));
  }

  /** Ends the input. */
  async closeStdin(): Promise<void> {
    await this.#stdin?.close().catch(() => {/* already closed */});
    this.#stdin = undefined;
  }

  kill(signal: Deno.Signal = "SIGTERM"): void {
    this.#child.kill(signal);
  }

  /** Sends `signal` and waits for the exit. */
  async stop(signal: Deno.Signal = "SIGTERM"): Promise<Deno.CommandStatus> {
    try {
      this.#child.kill(signal);
    } catch {
      // Exited already.
    }
    return await this.#child.status;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.closeStdin();
    await this.stop("SIGKILL");
    await Promise.all([this.stdout.rest(), this.stderr.rest()]).catch(
      () => {/* killed: nothing more to read */},
    );
  }
}

function spawnChild(program: string, args: string[], stdin: boolean): Deno.ChildProcess {
  return new Deno.Command(program, {
    args,
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Starts `program` with `args`, stdout and stderr piped. */
export function spawnProcess(program: string, args: string[], options: SpawnOptions = {}): ProcessHandle {
  const stdin = options.stdin ?? false;
  return new ProcessHandle(spawnChild(program, args, stdin), { stdin, label: options.label ?? program });
}

/** Starts `client.ts` with `args`; type its input with `type()`, end it with `closeStdin()`. */
export function spawnClient(args: string[]): ProcessHandle {
  return spawnProcess(Deno.execPath(), ["run", ...taskPermissions("client"), CLIENT_PATH, ...args], {
    stdin: true,
    label: "client",
  });
}

/** The server running as a subprocess, with the port it listens on. */
export class ServerProcess extends ProcessHandle {
  /** 0 for a server on a Unix socket. */
  port = 0;
  /** With `--tls`: the certificate's fingerprint, as the server logged it. */
  fingerprint: string | undefined;
  /** With `--web`: the page's address as the server logged it, and its port. */
  page: string | undefined;
  webPort = 0;
}

/** Options for {@linkcode startServer}. */
export interface StartServerOptions {
  /** Pipe stdin so the test can type operator commands. @default {false} */
  stdin?: boolean;
  /**
   * Another server to start, as program and arguments (`args` are appended); it must log
   * `listening on HOST:PORT` on stderr like ours. @default {Parley's server.ts on port 0}
   */
  command?: string[];
}

/** Starts `server.ts` (or `options.command`) on a free port and waits for its `listening on` line. */
export async function startServer(args: string[], options: StartServerOptions = {}): Promise<ServerProcess> {
  const [program, ...programArgs] = options.command ??
    [Deno.execPath(), "run", ...taskPermissions("server"), SERVER_PATH, "--port", "0"];
  const stdin = options.stdin ?? false;
  const server = new ServerProcess(spawnChild(program, [...programArgs, ...args], stdin), {
    stdin,
    label: "server",
  });
  try {
    const line = await server.stderr.waitFor(/listening on /, 20_000);
    // `listening on 127.0.0.1:2005 (chat mode)`, or a peer server's bare `listening on HOST:PORT`.
    server.port = Number(/listening on \S*:(\d+)(?: |$)/.exec(line)?.[1] ?? 0);
    server.fingerprint = /certificate (SHA256:[0-9A-F:]+)/.exec(line)?.[1];
    if (args.includes("--web")) {
      const web = await server.stderr.waitFor(/listening on .*\bpage (\S+?)[,)]/, 20_000);
      server.page = /\bpage (\S+?)[,)]/.exec(web)![1];
      server.webPort = Number(new URL(server.page).port);
    }
  } catch (error) {
    await server[Symbol.asyncDispose]();
    throw error;
  }
  return server;
}

/** What a finished subprocess printed. */
export interface Finished {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion with `input` on stdin, killing it after `timeoutMs`. */
export async function runToEnd(
  args: string[],
  options: { input?: string; timeoutMs?: number; program?: string } = {},
): Promise<Finished> {
  const child = new Deno.Command(options.program ?? Deno.execPath(), {
    args,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 20_000);
  const writer = child.stdin.getWriter();
  await writer.write(encoder.encode(options.input ?? "")).catch(() => {/* exited before reading */});
  await writer.close().catch(() => {/* exited before reading */});
  const output = await child.output();
  clearTimeout(timer);
  const decoder = new TextDecoder();
  return { code: output.code, stdout: decoder.decode(output.stdout), stderr: decoder.decode(output.stderr) };
}

/** Runs `client.ts` with `args` to completion. */
export function runClientProcess(args: string[], input = ""): Promise<Finished> {
  return runToEnd(["run", ...taskPermissions("client"), CLIENT_PATH, ...args], { input });
}

/** The text of each received line in client output, without the `[HH:MM:SS.mmm] ` stamp. */
export function receivedTexts(stdout: string): string[] {
  return stdout.split("\n").filter((line) => line !== "").map((line) =>
    line.replace(/^\[\d\d:\d\d:\d\d\.\d{3}\] /, "")
  );
}
