/**
 * The upgrade without a gap: a new server started on the same port with `--reuse-port` shares it
 * with the old one, which is then sent SIGTERM and drains. Conversations go on throughout, from
 * this machine into a network namespace of the test's own (where `net.ipv4.tcp_migrate_req` is
 * set, so that a connection the old server had not accepted yet moves to the new one instead of
 * being reset): none is refused, and every line said comes back.
 */

import { assert, assertEquals } from "../support/assert.ts";
import { NetworkNamespace } from "../support/netns.ts";
import { SERVER_PATH, startServer, taskPermissions } from "../../scripts/support/harness.ts";
import { SHUTTING_DOWN } from "../../lib/protocol/goodbye.ts";

const unavailable = await NetworkNamespace.unavailable();
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What the conversations saw. */
interface Tally {
  /** Lines that came back. */
  echoed: number;
  /** Lines said again on a new connection, because the old server closed before answering. */
  retried: number;
  /** Connects that failed: refused, reset, timed out. */
  failed: string[];
}

/** Connects to `host:port`, says `line`, and resolves with the first line back (or why not). */
async function converse(host: string, port: number, line: string): Promise<string> {
  const conn = await Deno.connect({ hostname: host, port });
  try {
    await conn.write(encoder.encode(line + "\n"));
    const buffer = new Uint8Array(256);
    let text = "";
    while (!text.includes("\n")) {
      const n = await conn.read(buffer);
      if (n === null) return text === "" ? "(closed)" : text;
      text += decoder.decode(buffer.subarray(0, n));
    }
    return text.slice(0, text.indexOf("\n"));
  } finally {
    conn.close();
  }
}

/** One client that holds conversations until `stop`, each line said until it comes back. */
async function talk(id: number, host: string, port: number, stop: AbortSignal, tally: Tally): Promise<void> {
  for (let n = 0; !stop.aborted; n++) {
    const line = `client ${id} line ${n}`;
    for (let attempt = 0;; attempt++) {
      let heard: string;
      try {
        heard = await converse(host, port, line);
      } catch (error) {
        tally.failed.push(`${line}: ${error instanceof Error ? error.message : error}`);
        break;
      }
      if (heard === line) {
        tally.echoed++;
        break;
      }
      // The old server was draining: as a client with --reconnect would, say it again.
      assert(heard === SHUTTING_DOWN || heard === "(closed)", `unexpected: ${heard}`);
      assert(attempt < 5, `${line} never came back`);
      tally.retried++;
    }
  }
}

Deno.test(
  "--reuse-port: a new server takes the port over while the old one drains; no connect fails, no line is lost",
  {
    ignore: unavailable !== undefined,
  },
  async () => {
    await using ns = await NetworkNamespace.create(1);
    const sysctl = await new Deno.Command("ip", {
      args: [...ns.exec.slice(1), "sysctl", "-w", "net.ipv4.tcp_migrate_req=1"],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert(sysctl.success, decoder.decode(sysctl.stderr));
    const host = ns.paths[0].address;
    const port = 2005;
    const command = [...ns.exec, Deno.execPath(), "run", ...taskPermissions("server"), SERVER_PATH];
    const args = ["--mode", "echo", "--host", "0.0.0.0", "--port", String(port), "--reuse-port", "--quiet"];
    await using old = await startServer(args, { command });
    const tally: Tally = { echoed: 0, retried: 0, failed: [] };
    const stop = new AbortController();
    const clients = Array.from({ length: 4 }, (_, id) => talk(id, host, port, stop.signal, tally));
    try {
      await new Promise((resolve) => setTimeout(resolve, 500));
      await using next = await startServer(args, { command });
      await new Promise((resolve) => setTimeout(resolve, 500));
      const before = tally.echoed;
      assertEquals((await old.stop("SIGTERM")).code, 0);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      stop.abort();
      await Promise.all(clients);
      assertEquals(tally.failed, []);
      assert(
        tally.echoed > before + 20,
        `the new server answered after the old one left (${tally.echoed - before})`,
      );
      // The old one logged its drain; the new one served the rest.
      await old.stderr.waitFor(/served \d+ connections/);
      next.kill("SIGTERM");
      await next.stderr.waitFor(/served \d+ connections/);
    } finally {
      stop.abort();
      await Promise.all(clients);
    }
  },
);
