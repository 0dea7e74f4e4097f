/**
 * `parley-client`: flags in, session run, exit code out. Everything else lives in `lib/`.
 *
 * Exit codes: 0 when the session ends normally, 1 when it cannot connect, the connection breaks
 * (the server closes without its goodbye, or without a word, or answers in TLS), or the server's
 * last line was an `ERR`; 2 for bad flags; 130 for Ctrl+C.
 */

import { UsageError, VERSION } from "./lib/app/cli/flags.ts";
import { clientHelp, parseClientArgs } from "./lib/app/cli/client_flags.ts";
import { ConnectError, runClient } from "./lib/client/run_client.ts";
import { writeLine } from "./lib/util/write.ts";
import { openTerminal } from "./lib/terminal.ts";

/** Runs the client with command-line `args`; resolves with the exit code. */
export async function main(args: string[]): Promise<number> {
  let command;
  try {
    command = parseClientArgs(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    writeLine(Deno.stderr, `parley-client: ${error.message} (see --help)`);
    return 2;
  }
  if (command.kind === "help") {
    writeLine(Deno.stdout, clientHelp());
    return 0;
  }
  if (command.kind === "version") {
    writeLine(Deno.stdout, `parley-client ${VERSION}`);
    return 0;
  }
  const terminal = openTerminal();
  try {
    const outcome = await runClient({ ...command.config, terminal });
    if (outcome.end === "interrupted") return 130;
    const broken = outcome.end === "connection lost" || outcome.end === "wrong protocol";
    return broken || outcome.lastLineWasError ? 1 : 0;
  } catch (error) {
    terminal.close();
    if (!(error instanceof ConnectError)) throw error;
    writeLine(Deno.stderr, error.message);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
