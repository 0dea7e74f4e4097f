/**
 * Measurements shared by the report scripts (`soak`, `bench`): a server's resident memory, the
 * memory it spends per idle connection, and the CPU time a process used. Linux only: they come
 * from /proc.
 */

import type { Stream } from "../../lib/transport/transport.ts";
import { delay } from "../../lib/util/delay.ts";

const encoder = new TextEncoder();

/** Opens a connection to a server listening on 127.0.0.1:`port`. */
export type Connect = (port: number) => Promise<Stream>;

const plainTcp: Connect = (port) => Deno.connect({ hostname: "127.0.0.1", port });

/** The resident set size of process `pid`, in bytes. */
export async function rss(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

/** The CPU time process `pid` has used so far (user and system), in seconds. */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  // Fields after the command name, which is in parentheses and may hold spaces: utime is the 12th.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** Linux's USER_HZ, in which /proc reports CPU time: 100 on every architecture Deno runs on. */
const CLOCK_TICKS = 100;

/**
 * Opens `count` connections to an echo server (250 at a time, with `connect`, plain TCP by
 * default), proves each live with one line, holds them a second and returns the server's RSS growth
 * per connection, in bytes.
 */
export async function idleBytesPerConnection(
  pid: number,
  port: number,
  count: number,
  connect: Connect = plainTcp,
): Promise<number> {
  const conns: Stream[] = [];
  const buffer = new Uint8Array(64);
  try {
    const before = await rss(pid);
    for (let i = 0; i < count; i += 250) {
      conns.push(
        ...await Promise.all(Array.from({ length: Math.min(250, count - i) }, async () => {
          const conn = await connect(port);
          await conn.write(encoder.encode("hi\n"));
          let got = 0;
          while (got < 3) {
            const n = await conn.read(buffer.subarray(got));
            if (n === null) throw new Error(`an idle connection was closed after ${got} bytes of its echo`);
            got += n;
          }
          return conn;
        })),
      );
    }
    // Holding them is the point: the server's memory settles with every connection idle.
    await delay(1000);
    return Math.round(((await rss(pid)) - before) / count);
  } finally {
    for (const conn of conns) conn.close();
  }
}

/** Re-runs the calling script under `prlimit` when its open-file limit is below `needed`. */
export async function ensureFileLimit(needed: number, script: string, args: string[] = []): Promise<void> {
  const limits = await Deno.readTextFile("/proc/self/limits");
  const soft = Number(/Max open files\s+(\d+)/.exec(limits)?.[1] ?? 0);
  if (soft >= needed || Deno.env.get("PARLEY_RELAUNCHED")) return;
  const child = new Deno.Command("prlimit", {
    args: [`--nofile=${needed}:${needed}`, Deno.execPath(), "run", "-A", script, ...args],
    env: { PARLEY_RELAUNCHED: "1" },
  }).spawn();
  Deno.exit((await child.status).code);
}
