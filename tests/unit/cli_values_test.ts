/**
 * Each kind of flag value at its edges: what is taken, what it becomes, and the one sentence a bad
 * value gets; then `--help` against the README's flag tables, row by row.
 */

import { assert, assertEquals, assertMatch, throws } from "../support/assert.ts";
import { CLIENT_FLAGS, clientHelp, parseClientArgs } from "../../lib/app/cli/client_flags.ts";
import { type Flag, UsageError, VERSION } from "../../lib/app/cli/flags.ts";
import { parseServerArgs, SERVER_FLAGS, serverHelp } from "../../lib/app/cli/server_flags.ts";

/** The server's config for `args`, or the message of the usage error they get. */
function server(args: string[]): Record<string, unknown> | string {
  try {
    const command = parseServerArgs(args, "linux");
    return command.kind === "run" ? command.config as unknown as Record<string, unknown> : command.kind;
  } catch (error) {
    if (error instanceof UsageError) return error.message;
    throw error;
  }
}

function value(args: string[], key: string): unknown {
  const config = server(args);
  if (typeof config === "string") throw new Error(`${args.join(" ")}: ${config}`);
  return config[key];
}

function refused(args: string[]): string {
  const config = server(args);
  assertEquals(typeof config, "string", `${args.join(" ")} is refused`);
  return config as string;
}

Deno.test("ports: 0 to 65535 in at most 5 digits", () => {
  for (const [raw, port] of [["0", 0], ["65535", 65535], ["00080", 80]] as const) {
    assertEquals(value(["--port", raw], "port"), port);
  }
  for (const raw of ["65536", "123456", "-1", "1e3", " 80", "80 ", "0x50", ""]) {
    assertEquals(refused(["--port", raw]), `--port must be a port number from 0 to 65535, got "${raw}"`);
  }
});

Deno.test("hosts: brackets are dropped from an IPv6 address; nothing at all is refused", () => {
  assertEquals(value(["--host", "[::1]"], "host"), "::1");
  assertEquals(value(["--host", "::1"], "host"), "::1");
  assertEquals(value(["--host", "[x"], "host"), "[x");
  assertEquals(value(["--host", "x[::1]"], "host"), "x[::1]", "brackets only around the whole");
  assertEquals(value(["--host", "[::1]x"], "host"), "[::1]x");
  for (const raw of ["", "[]"]) {
    assertEquals(refused(["--host", raw]), `--host needs an address or a host name, got ""`);
  }
});

Deno.test("counts: whole numbers of at most 9 digits, from each flag's minimum", () => {
  assertEquals(value(["--max-conns-per-ip", "0"], "maxConnsPerIp"), 0);
  assertEquals(value(["--max-conns", "1"], "maxConns"), 1);
  assertEquals(value(["--max-conns", "999999999"], "maxConns"), 999999999);
  assertEquals(refused(["--max-conns", "0"]), `--max-conns must be a whole number from 1, got "0"`);
  for (const raw of ["1000000000", "-1", "1.5", "1e3", "", " 1"]) {
    assertEquals(
      refused(["--max-conns-per-ip", raw]),
      `--max-conns-per-ip must be a whole number from 0, got "${raw}"`,
    );
  }
});

Deno.test("sizes: 1 byte to 2G, with K, M, G in either case and an optional B or iB", () => {
  const cases: [string, number][] = [
    ["1", 1],
    ["64k", 65536],
    ["64K", 65536],
    ["64KB", 65536],
    ["64KiB", 65536],
    ["3m", 3 * 2 ** 20],
    ["2G", 2 ** 31],
    ["2g", 2 ** 31],
    ["2048M", 2 ** 31],
    ["100B", 100],
    ["999999999999", NaN],
  ];
  for (const [raw, bytes] of cases) {
    if (Number.isNaN(bytes)) refused(["--max-line", raw]);
    else assertEquals(value(["--max-line", raw], "maxLine"), bytes, raw);
  }
  for (const raw of ["0", "0K", "2049M", "3G", "1T", "1.5K", "K", "64 K", "64iB", "1000000000000", ""]) {
    assertEquals(
      refused(["--max-line", raw]),
      `--max-line must be a size in bytes from 1 to 2G (e.g. 65536, 64K, 1M), got "${raw}"`,
    );
  }
});

Deno.test("seconds: 0 to 86400, fractions allowed", () => {
  for (
    const [raw, seconds] of [["0", 0], ["0.5", 0.5], ["0.25", 0.25], ["86400", 86400], ["007", 7]] as const
  ) {
    assertEquals(value(["--idle-timeout", raw], "idleTimeout"), seconds);
  }
  for (const raw of ["86400.5", "86401", ".5", "1.", "-1", "1e3", "", " 1"]) {
    assertEquals(
      refused(["--idle-timeout", raw]),
      `--idle-timeout must be a number of seconds from 0 to 86400, got "${raw}"`,
    );
  }
});

Deno.test("octal modes: three digits 0-7, a leading 0 allowed", () => {
  for (const [raw, mode] of [["600", 0o600], ["0660", 0o660], ["777", 0o777], ["000", 0]] as const) {
    assertEquals(value(["--unix", "/tmp/x.sock", "--unix-mode", raw], "unixMode"), mode);
  }
  for (const raw of ["60", "6000", "800", "1777", "06600", "rw", ""]) {
    assertEquals(
      refused(["--unix", "/tmp/x.sock", "--unix-mode", raw]),
      `--unix-mode must be an octal mode such as 600, got "${raw}"`,
    );
  }
});

Deno.test("choices name what they take", () => {
  assertEquals(value(["--log", "json"], "log"), "json");
  assertEquals(refused(["--log", "xml"]), `--log must be one of text, json, got "xml"`);
  assertEquals(refused(["--mode", "Chat"]), `--mode must be one of console, echo, chat, got "Chat"`);
});

Deno.test("bad command lines: unknown flags, stray arguments, missing and unwanted values", () => {
  assertEquals(refused(["--colour"]), "unknown flag --colour");
  assertEquals(refused(["-x"]), "unknown flag -x");
  assertEquals(refused(["-undefined", "1"]), "unknown flag -u", "not a flag without a short form");
  assertMatch(refused(["--allow", "nope"]), /^--allow: "nope" is not an IP address/);
  assertMatch(refused(["--deny", "nope"]), /^--deny: "nope" is not an IP address/);
  assertEquals(refused(["chat"]), `unexpected argument "chat" (flags start with --)`);
  assertEquals(refused(["--port"]), "--port needs a value");
  assertEquals(refused(["--quiet=yes"]), "--quiet takes no value");
  assertEquals(server(["-h"]), "help");
  assertEquals(server(["-V", "--port", "nope"]), "version");
});

Deno.test("--workers: 1 to 256, Linux only, never with console mode or a Unix socket", () => {
  assertEquals(value(["--workers", "256", "--mode", "echo"], "workers"), 256);
  assertEquals(refused(["--workers", "257", "--mode", "echo"]), "--workers must be at most 256, got 257");
  assertEquals(
    refused(["--workers", "2"]),
    "--workers above 1 needs --mode echo or chat: console mode has one operator",
  );
  throws(() => parseServerArgs(["--workers", "2", "--mode", "echo"], "darwin"), UsageError);
  assertEquals(parseServerArgs(["--workers", "1"], "darwin").kind, "run");
  assertEquals(
    refused(["--workers", "2", "--mode", "echo", "--unix", "/tmp/x.sock"]),
    "--workers above 1 needs TCP: workers share a port, not a socket file",
  );
  assertEquals(
    refused(["--unix", "/tmp/x.sock", "--tls"]),
    "--tls works over TCP only, not with --unix",
  );
  throws(() => parseServerArgs(["--unix", "/tmp/x.sock"], "windows"), UsageError);
});

Deno.test("--history: at most 100000, chat only; --room and --max-rooms need chat; --redis-ca, --redis", () => {
  assertEquals(value(["--mode", "chat", "--history", "100000"], "history"), 100000);
  assertEquals(
    refused(["--mode", "chat", "--history", "100001"]),
    "--history must be at most 100000, got 100001",
  );
  assertEquals(refused(["--history", "5"]), "--history needs --mode chat");
  assertEquals(value(["--history", "0"], "history"), 0);
  assertEquals(refused(["--mode", "echo", "--room", "x"]), "--room needs --mode chat");
  assertEquals(refused(["--mode", "echo", "--max-rooms", "5"]), "--max-rooms needs --mode chat");
  assertEquals(value(["--mode", "chat"], "room"), "#parley");
  assertEquals(value(["--mode", "chat"], "maxRooms"), 1000);
  assertEquals(
    refused(["--mode", "chat", "--max-rooms", "0"]),
    '--max-rooms must be a whole number from 1, got "0"',
  );
  assertEquals(refused(["--mode", "chat", "--redis-ca", "ca.pem"]), "--redis-ca needs a rediss:// --redis");
  // The # may be left out; a room is a name after it, with or without Redis.
  for (const chat of [["--mode", "chat"], ["--mode", "chat", "--redis", "redis://127.0.0.1:6379"]]) {
    for (
      const [room, kept] of [["a", "#a"], ["#Lobby_9-x", "#Lobby_9-x"], [
        "r".repeat(32),
        `#${"r".repeat(32)}`,
      ]]
    ) {
      assertEquals(value([...chat, "--room", room], "room"), kept);
    }
    assertEquals(value([...chat, "--room", "#Café"], "room"), "#Caf\u00e9");
    for (
      const [room, why] of [
        ["", "use 1-32 letters, digits, - or _ (any one script)"],
        ["#", "use 1-32 letters, digits, - or _ (any one script)"],
        ["r".repeat(33), "longer than 32 characters"],
        ["a b", "use 1-32 letters, digits, - or _ (any one script)"],
        ["a.b", "use 1-32 letters, digits, - or _ (any one script)"],
        ["##a", "use 1-32 letters, digits, - or _ (any one script)"],
      ]
    ) {
      assertEquals(
        refused([...chat, "--room", room]),
        `--room must be a room's name, got ${JSON.stringify(room)}: ${why}`,
      );
    }
  }
});

Deno.test("--web: [HOST:]PORT, its host defaulting to --host; never the same port as --port", () => {
  assertEquals(value(["--web", "8080"], "web"), { host: "127.0.0.1", port: 8080 });
  assertEquals(value(["--web", ":8080"], "web"), { host: "127.0.0.1", port: 8080 });
  assertEquals(value(["--web", "[::1]:0"], "web"), { host: "::1", port: 0 });
  assertEquals(value(["--web", "0.0.0.0:65535"], "web"), { host: "0.0.0.0", port: 65535 });
  for (const raw of ["65536", "x", "host:", "[]:80", "123456", ""]) {
    assertEquals(
      refused(["--web", raw]),
      `--web must be [HOST:]PORT, e.g. 8080 or 0.0.0.0:8080, got ${JSON.stringify(raw)}`,
    );
  }
  const same = "--web and --port must be different ports, both are 2005";
  assertEquals(refused(["--web", "2005"]), same);
  assertEquals(refused(["--web", "0.0.0.0:2005"]), same, "a wildcard overlaps every address");
  assertEquals(refused(["--host", "::", "--web", "127.0.0.1:2005"]), same);
  assertEquals(value(["--web", "127.0.0.2:2005"], "web"), { host: "127.0.0.2", port: 2005 });
  assertEquals(value(["--port", "0", "--web", "0"], "web"), { host: "127.0.0.1", port: 0 });
  assertEquals(value(["--unix", "/tmp/x.sock", "--web", "2005"], "web"), { host: "127.0.0.1", port: 2005 });
  assertEquals(refused(["--web-origin", "https://a.example"]), "--web-origin needs --web");
  assertEquals(refused(["--web-host", "a.example"]), "--web-host needs --web");
  assertEquals(value(["--web", "8080", "--web-host", " A.example , b.example"], "webHost"), [
    "a.example",
    "b.example",
  ]);
  assertEquals(
    refused(["--web", "8080", "--web-host", "a_b"]),
    `--web-host must be a host name such as chat.example.com, got "a_b"`,
  );
});

Deno.test("client: values are checked as the server's are; --unix and --tls do not mix", () => {
  const client = (args: string[]) => {
    const command = parseClientArgs(args);
    if (command.kind !== "run") throw new Error(command.kind);
    return command.config as unknown as Record<string, unknown>;
  };
  assertEquals(client([]).tls, false);
  assertEquals(client(["--ca", "ca.pem"]).tls, true);
  assertEquals(client(["--ca", "a.pem", "--ca", "b.pem"]).ca, ["a.pem", "b.pem"]);
  throws(() => parseClientArgs(["--unix", "/tmp/x.sock", "--tls"]), UsageError);
  throws(() => parseClientArgs(["--unix", "/tmp/x.sock", "--ca", "ca.pem"]), UsageError);
  assertEquals(client(["--unix", "/tmp/x.sock"]).unix, "/tmp/x.sock");
  assertEquals(client(["--reconnect", "--reconnect-attempts", "3"]).reconnectAttempts, 3);
  assertEquals(parseClientArgs(["-h"]), { kind: "help" });
});

/** The README's flag table rows: flag, its placeholder and alias, and its default column. */
function readmeRows(readme: string): Map<string, { left: string; fallback: string }> {
  const rows = new Map<string, { left: string; fallback: string }>();
  for (const [, left, fallback] of readme.matchAll(/^\| (`--[^|]*?) *\| ([^|]*?) *\|/gm)) {
    const flag = /^`(--[a-z-]+)/.exec(left)![1];
    // The first table that names a flag is the server's; the client's comes after it.
    if (!rows.has(flag)) rows.set(flag, { left, fallback });
    else rows.set(`client ${flag}`, { left, fallback });
  }
  return rows;
}

Deno.test("--help says something of every flag, and agrees with the README's tables on placeholders and defaults", async () => {
  const readme = readmeRows(await Deno.readTextFile(new URL("../../README.md", import.meta.url)));
  for (const [program, help] of [["server", serverHelp()], ["client", clientHelp()]]) {
    const lines = help.split("\n").filter((line) => line.startsWith("  --"));
    assert(lines.length > 5, `${program} --help lists its flags`);
    for (const line of lines) {
      const match = /^ {2}(--[a-z-]+)(?:, (-\w))?(?: ([A-Z[][^ ]*))? {2,}(\S.*?)(?: \(default: ([^)]*)\))?$/
        .exec(line);
      assert(match !== null, `a flag line: ${line}`);
      const [, flag, short, placeholder, text, fallback] = match;
      assert(
        text.length > 10 && !text.startsWith("(default"),
        `${program} ${flag} says what it does: ${line}`,
      );
      const row = (program === "client" && readme.get(`client ${flag}`)) || readme.get(flag);
      assert(row !== undefined, `the README has a row for ${program} ${flag}`);
      assertMatch(
        row.left,
        new RegExp(`^\`${flag}${placeholder ? ` ${placeholder.replace(/[[\]]/g, "\\$&")}` : ""}\``),
        `${program} ${flag}`,
      );
      if (short !== undefined) {
        assertMatch(row.left, new RegExp(`\`${short}\``), `${program} ${flag} ${short}`);
      }
      if (fallback !== undefined) {
        assertEquals(row.fallback, `\`${fallback}\``, `${program} ${flag}'s default`);
      } else {
        assert(!row.fallback.startsWith("`"), `${program} ${flag}: --help shows the README's default`);
      }
    }
  }
});

Deno.test("--help begins with the program, its version and what it is, and ends with a hint", () => {
  const server = serverHelp().split("\n");
  assertEquals(server.slice(0, 5), [
    `parley-server ${VERSION}: a concurrent multi-client TCP line server`,
    "",
    "Usage: parley-server [flags]",
    "",
    "Flags:",
  ]);
  assertEquals(server.at(-1), "In console mode, type /help for the operator's commands.");
  const client = clientHelp().split("\n");
  assertEquals(client.slice(0, 5), [
    `parley-client ${VERSION}: talk to a line server from the terminal or a script`,
    "",
    "Usage: parley-client [flags]",
    "",
    "Flags:",
  ]);
  assertEquals(
    client.at(-1),
    "A line with only . ends the session. Received lines go to stdout, status to stderr.",
  );
  // The descriptions line up in one column, two spaces after the longest flag.
  for (const help of [server, client]) {
    const rows = help.filter((line) => line.startsWith("  --"));
    const longest = Math.max(...rows.map((line) => line.trimStart().split(/ {2,}/)[0].length));
    for (const row of rows) {
      assertEquals(row.slice(2 + longest, 4 + longest), "  ", row);
      assert(row[4 + longest] !== " ", row);
    }
  }
});

Deno.test("--redis takes a Sentinel URL: the sentinels, the primary's name, credentials for Redis", () => {
  const redis = (url: string) => value(["--mode", "chat", "--redis", url], "redis");
  assertEquals(redis("redis+sentinel://app:s%40cret@10.0.0.1:26380,[fd00::2],sentinel-c:5000/mymaster"), {
    url: "redis+sentinel://app:s%40cret@10.0.0.1:26380,[fd00::2],sentinel-c:5000/mymaster",
    shown: "redis+sentinel://app:***@10.0.0.1:26380,[fd00::2],sentinel-c:5000/mymaster",
    tls: false,
    sentinel: {
      name: "mymaster",
      nodes: [{ host: "10.0.0.1", port: 26380 }, { host: "fd00::2", port: 26379 }, {
        host: "sentinel-c",
        port: 5000,
      }],
      username: "app",
      password: "s@cret",
    },
  });
  assertEquals((redis("rediss+sentinel://h/p") as { tls: boolean }).tls, true);
  for (
    const [url, phrase] of [
      ["redis+sentinel://h:26379", "is not a Sentinel URL"],
      ["redis+sentinel://h:26379/", "needs the primary's name"],
      ["redis+sentinel://h:99999/p", 'names a sentinel "h:99999"'],
      ["redis+sentinel://h:1,,h:2/p", 'names a sentinel ""'],
      ["redis+sentinel://h/p?x=1", "is not a Sentinel URL"],
    ]
  ) {
    assertMatch(
      refused(["--mode", "chat", "--redis", url]),
      new RegExp(`^--redis ${phrase.replace(/[()[\].*+?^$|]/g, "\\$&")}`),
    );
  }
});

Deno.test("--redis takes a cluster URL: some of its nodes (6379 by default) and the credentials", () => {
  const redis = (url: string) => value(["--mode", "chat", "--redis", url], "redis");
  assertEquals(redis("redis+cluster://app:s%40cret@10.0.0.1:7000,[fd00::2],node-c:7002"), {
    url: "redis+cluster://app:s%40cret@10.0.0.1:7000,[fd00::2],node-c:7002",
    shown: "redis+cluster://app:***@10.0.0.1:7000,[fd00::2],node-c:7002",
    tls: false,
    cluster: {
      nodes: [{ host: "10.0.0.1", port: 7000 }, { host: "fd00::2", port: 6379 }, {
        host: "node-c",
        port: 7002,
      }],
      username: "app",
      password: "s@cret",
    },
  });
  assertEquals((redis("rediss+cluster://h:1/") as { tls: boolean }).tls, true);
  for (
    const [url, phrase] of [
      ["redis+cluster://h:1/db", "is not a cluster URL"],
      ["redis+cluster://h:0", 'names a node "h:0"'],
      ["redis+cluster://h:1,,h:2", 'names a node ""'],
      ["redis+cluster://h:1?x=1", "is not a cluster URL"],
    ]
  ) {
    assertMatch(
      refused(["--mode", "chat", "--redis", url]),
      new RegExp(`^--redis ${phrase.replace(/[()[\].*+?^$|]/g, "\\$&")}`),
    );
  }
});

Deno.test("--admin: [HOST:]PORT on 127.0.0.1 unless a host is given; --ready-needs-redis needs it and --redis", () => {
  assertEquals(value(["--admin", "9090"], "admin"), { host: "127.0.0.1", port: 9090 });
  assertEquals(value(["--admin", ":0"], "admin"), { host: "127.0.0.1", port: 0 });
  assertEquals(value(["--admin", "[::1]:65535"], "admin"), { host: "::1", port: 65535 });
  assertEquals(value(["--admin", "0.0.0.0:9090"], "admin"), { host: "0.0.0.0", port: 9090 });
  assertEquals(value([], "admin"), undefined);
  for (const raw of ["65536", "x", "host:", "[]:80", ""]) {
    assertEquals(
      refused(["--admin", raw]),
      `--admin must be [HOST:]PORT, e.g. 9090 or 0.0.0.0:9090, got ${JSON.stringify(raw)}`,
    );
  }
  assertEquals(refused(["--ready-needs-redis"]), "--ready-needs-redis needs --admin");
  assertEquals(refused(["--admin", "9090", "--ready-needs-redis"]), "--ready-needs-redis needs --redis");
  const redis = ["--mode", "chat", "--redis", "redis://127.0.0.1:6379", "--admin", "9090"];
  assertEquals(value([...redis, "--ready-needs-redis"], "readyNeedsRedis"), true);
  assertEquals(value(redis, "readyNeedsRedis"), false);
  assertEquals(value(["--mode", "echo", "--workers", "2", "--admin", "9090"], "workers"), 2);
  assertEquals(value(["--mode", "echo", "--workers", "1", "--admin", "9090"], "workers"), 1);
});

Deno.test("--log-level takes debug, info, warn or error", () => {
  for (const level of ["debug", "info", "warn", "error"]) {
    assertEquals(value(["--log-level", level], "logLevel"), level);
  }
  assertEquals(value([], "logLevel"), "info");
  assertEquals(
    refused(["--log-level", "trace"]),
    `--log-level must be one of debug, info, warn, error, got "trace"`,
  );
});

Deno.test("every flag that takes a value takes it, converted as its kind says", () => {
  const config = server([
    ...["--backlog", "16", "--line-timeout", "2.5", "--handshake-timeout", "3"],
    ...["--allow-file", "a.txt", "--deny-file", "d.txt", "--deny-file", "e.txt"],
  ]) as Record<string, unknown>;
  assertEquals(
    [config.backlog, config.lineTimeout, config.handshakeTimeout, config.allowFile, config.denyFile],
    [16, 2.5, 3, ["a.txt"], ["d.txt", "e.txt"]],
  );
  const command = parseClientArgs(["--wait", "0.5", "--json"]);
  if (command.kind !== "run") throw new Error(command.kind);
  assertEquals([command.config.wait, command.config.json], [0.5, true]);
  const plain = parseClientArgs([]);
  if (plain.kind !== "run") throw new Error(plain.kind);
  assertEquals([plain.config.wait, plain.config.json], [5, false]);
  const error = throws(() => parseClientArgs(["--unix", "/tmp/x.sock", "--tls"]), UsageError);
  assertEquals([error.name, error.message], ["UsageError", "--tls works over TCP only, not with --unix"]);
});

Deno.test("--reuse-port: a switch, Linux only, over TCP only", () => {
  assertEquals(value(["--reuse-port"], "reusePort"), true);
  assertEquals(value([], "reusePort"), false);
  assertEquals(refused(["--reuse-port=yes"]), "--reuse-port takes no value");
  assertEquals(
    refused(["--reuse-port", "--unix", "/tmp/p.sock"]),
    "--reuse-port works over TCP only, not with --unix",
  );
  try {
    parseServerArgs(["--reuse-port"], "darwin");
    throw new Error("accepted on darwin");
  } catch (error) {
    assertEquals(
      (error as Error).message,
      "--reuse-port needs Linux (SO_REUSEPORT spreads connections there), not darwin",
    );
  }
});

Deno.test("--help shows each flag's help, with its default only where it has one", () => {
  for (const [help, table] of [[serverHelp(), SERVER_FLAGS], [clientHelp(), CLIENT_FLAGS]] as const) {
    const rows = help.split("\n").filter((line) => line.startsWith("  --"));
    for (const flag of Object.values(table) as Flag<unknown>[]) {
      const row = rows.find((line) => line.endsWith(flag.help) || line.includes(`${flag.help} (default: `));
      assert.ok(row !== undefined, `a row for "${flag.help}"`);
      assertEquals(
        row.endsWith(flag.shown === undefined ? flag.help : `(default: ${flag.shown})`),
        true,
        row,
      );
    }
  }
});

Deno.test("the systemd unit in docs/ runs a command line the server takes, sharing its port", async () => {
  const unit = await Deno.readTextFile(new URL("../../docs/parley-server@.service", import.meta.url));
  const exec = /^ExecStart=\S+ (.*)$/m.exec(unit)![1].replaceAll("%i", "9091").split(/\s+/);
  const command = parseServerArgs(exec, "linux");
  assertEquals(command.kind, "run");
  if (command.kind !== "run") return;
  assertEquals([command.config.reusePort, command.config.admin?.port, command.config.mode], [
    true,
    9091,
    "chat",
  ]);
  assertMatch(unit, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
});

Deno.test("--rate: LINES_PER_S[:BURST], 20:50 by default in chat, off elsewhere; --rate-kick needs a rate", () => {
  assertEquals(value(["--mode", "chat"], "rate"), { perSecond: 20, burst: 50 });
  assertEquals(value(["--mode", "chat", "--rate", "5"], "rate"), { perSecond: 5, burst: 13 });
  assertEquals(value(["--mode", "chat", "--rate", "0.5:1"], "rate"), { perSecond: 0.5, burst: 1 });
  assertEquals(value(["--mode", "chat", "--rate", "0"], "rate"), undefined);
  assertEquals(value(["--mode", "echo"], "rate"), undefined, "echo is not rate-limited");
  assertEquals(value(["--mode", "chat", "--rate-kick", "30"], "rateKick"), 30);
  for (const bad of ["fast", "-1", "20:", "20:0", "0.01", ":5"]) {
    assertMatch(refused(["--mode", "chat", "--rate", bad]), /^--rate(:| must be LINES_PER_S\[:BURST\])/);
  }
  assertEquals(refused(["--mode", "chat", "--rate", "0", "--rate-kick", "5"]), "--rate-kick needs a --rate");
});
