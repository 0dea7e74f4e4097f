import { assertEquals, assertMatch, throws } from "../support/assert.ts";
import { clientHelp, parseClientArgs } from "../../lib/app/cli/client_flags.ts";
import { UsageError } from "../../lib/app/cli/flags.ts";
import { parseServerArgs, serverHelp } from "../../lib/app/cli/server_flags.ts";

Deno.test("server flags have the documented defaults", () => {
  assertEquals(parseServerArgs([]), {
    kind: "run",
    config: {
      host: "127.0.0.1",
      port: 2005,
      mode: "console",
      maxLine: 65536,
      maxQueue: 1048576,
      drainTimeout: 5,
      workers: 1,
      backlog: 4096,
      reusePort: false,
      maxConns: 10000,
      maxConnsPerIp: 0,
      idleTimeout: 0,
      lineTimeout: 30,
      log: "text",
      logLevel: "info",
      quiet: false,
      tls: false,
      tlsCert: undefined,
      tlsKey: undefined,
      handshakeTimeout: 10,
      allow: [],
      deny: [],
      allowFile: [],
      denyFile: [],
      unix: undefined,
      unixMode: 0o600,
      web: undefined,
      webOrigin: [],
      webHost: [],
      history: 0,
      redis: undefined,
      redisCa: undefined,
      room: "#parley",
      maxRooms: 1000,
      resumeWindow: 120,
      resumeBuffer: 1048576,
      transcript: undefined,
      transcriptPrivate: "yes",
      rate: undefined,
      rateKick: 0,
      admin: undefined,
      readyNeedsRedis: false,
    },
  });
});

Deno.test("server flags are parsed and converted", () => {
  const command = parseServerArgs([
    "--mode",
    "chat",
    "--port=0",
    "--max-line",
    "64K",
    "--max-queue",
    "2M",
    "--quiet",
  ]);
  if (command.kind !== "run") throw new Error("expected run");
  assertEquals(command.config.mode, "chat");
  assertEquals(command.config.port, 0);
  assertEquals(command.config.maxLine, 65536);
  assertEquals(command.config.maxQueue, 2 * 1024 * 1024);
  assertEquals(command.config.quiet, true);
});

Deno.test("a -- is ignored wherever it is", () => {
  for (
    const args of [["--", "--mode", "echo"], ["--mode", "echo", "--"], ["--quiet", "--", "--mode", "echo"]]
  ) {
    const command = parseServerArgs(args);
    assertEquals(command.kind === "run" && command.config.mode, "echo", args.join(" "));
  }
});

Deno.test("a flag that takes a value takes the next argument, whatever it looks like", () => {
  const command = parseClientArgs(["--message", "-x", "--message", "--not-a-flag", "-p", "7"]);
  if (command.kind !== "run") throw new Error("expected run");
  assertEquals(command.config.messages, ["-x", "--not-a-flag"]);
  assertEquals(command.config.port, 7);
});

Deno.test("ncat's one-letter flags: -h, -V and -p", () => {
  assertEquals(parseServerArgs(["-h"]), { kind: "help" });
  assertEquals(parseClientArgs(["-V"]), { kind: "version" });
  const command = parseServerArgs(["-p", "0"]);
  assertEquals(command.kind === "run" && command.config.port, 0);
});

Deno.test("sizes take K, M and G; 2G is the largest", () => {
  const command = parseServerArgs(["--max-line", "2G", "--max-queue", "3m"]);
  if (command.kind !== "run") throw new Error("expected run");
  assertEquals(command.config.maxLine, 2 ** 31);
  assertEquals(command.config.maxQueue, 3 * 1024 * 1024);
});

Deno.test("--host takes an IPv6 address with or without brackets", () => {
  for (const host of ["::1", "[::1]"]) {
    const command = parseServerArgs(["--host", host]);
    assertEquals(command.kind === "run" && command.config.host, "::1");
  }
});

Deno.test("client: --connect-timeout 0 means no limit; --reconnect-attempts needs --reconnect", () => {
  const command = parseClientArgs(["--connect-timeout", "0"]);
  assertEquals(command.kind === "run" && command.config.connectTimeout, 0);
  assertEquals(
    throws(() => parseClientArgs(["--reconnect-attempts", "3"]), UsageError).message,
    "--reconnect-attempts needs --reconnect",
  );
  const both = parseClientArgs(["--reconnect", "--reconnect-attempts", "3"]);
  assertEquals(both.kind === "run" && both.config.reconnectAttempts, 3);
});

Deno.test("bad flags are one sentence naming the flag", () => {
  const cases: [string[], RegExp][] = [
    [["--bogus"], /^unknown flag --bogus$/],
    [["--port", "70000"], /^--port must be a port number from 0 to 65535, got "70000"$/],
    [["--port", "x"], /--port must be a port number/],
    [["--mode", "karaoke"], /^--mode must be one of console, echo, chat, got "karaoke"$/],
    [["--max-line", "0"], /^--max-line must be a size in bytes/],
    [["--drain-timeout", "-1"], /^--drain-timeout must be a number of seconds from 0 to 86400, got "-1"$/],
    [["--port", "-1"], /^--port must be a port number from 0 to 65535, got "-1"$/],
    [["-p", "-1"], /^--port must be a port number from 0 to 65535, got "-1"$/],
    [["--max-line", "3G"], /^--max-line must be a size in bytes from 1 to 2G/],
    [["--host", ""], /^--host needs an address or a host name, got ""$/],
    [["--port", "--mode"], /^--port must be a port number from 0 to 65535, got "--mode"$/],
    [["--log", "xml"], /^--log must be one of text, json/],
    [["--max-conns", "0"], /^--max-conns must be a whole number from 1, got "0"$/],
    [["--idle-timeout", "soon"], /^--idle-timeout must be a number of seconds/],
    [["--port"], /^--port needs a value$/],
    [["--quiet=yes"], /^--quiet takes no value$/],
    [["stray"], /^unexpected argument "stray"/],
  ];
  for (const [args, pattern] of cases) {
    assertMatch(throws(() => parseServerArgs(args), UsageError).message, pattern);
  }
});

Deno.test("--workers above 1 needs Linux and a mode without an operator", () => {
  const run = (args: string[], os: typeof Deno.build.os) => parseServerArgs(args, os);
  const ok = run(["--workers", "4", "--mode", "chat"], "linux");
  assertEquals(ok.kind === "run" && ok.config.workers, 4);
  assertEquals(run(["--workers", "1"], "darwin").kind, "run");
  for (
    const [args, os, pattern] of [
      [["--workers", "2", "--mode", "echo"], "darwin", /--workers above 1 needs Linux/],
      [["--workers", "2"], "linux", /console mode has one operator/],
      [["--workers", "0", "--mode", "echo"], "linux", /--workers must be a whole number from 1/],
      [["--workers", "257", "--mode", "echo"], "linux", /--workers must be at most 256/],
    ] as const
  ) {
    assertMatch(throws(() => run([...args], os), UsageError).message, pattern);
  }
});

Deno.test("client --message repeats and keeps order", () => {
  const command = parseClientArgs(["--message", "a", "--message", "b", "--json"]);
  if (command.kind !== "run") throw new Error("expected run");
  assertEquals(command.config.messages, ["a", "b"]);
  assertEquals(command.config.json, true);
  assertEquals(command.config.wait, 5);
  assertEquals(command.config.connectTimeout, 5);
});

Deno.test("--help and --version win over other flags", () => {
  assertEquals(parseServerArgs(["--mode", "echo", "--help"]), { kind: "help" });
  assertEquals(parseClientArgs(["--version"]), { kind: "version" });
});

Deno.test("help lists every flag with its default", () => {
  const server = serverHelp();
  const serverFlags = [
    "host",
    "port",
    "mode",
    "max-line",
    "max-queue",
    "drain-timeout",
    "backlog",
    "max-conns",
    "max-conns-per-ip",
    "idle-timeout",
    "line-timeout",
    "log",
    "quiet",
    "help",
    "version",
  ];
  for (const flag of serverFlags) assertMatch(server, new RegExp(`--${flag}\\b`));
  assertMatch(server, /--port, -p PORT .*\(default: 2005\)/);
  assertMatch(server, /--max-line BYTES .*\(default: 65536\)/);
  assertMatch(server, /--line-timeout SECONDS .*\(default: 30\)/);
  const client = clientHelp();
  const clientFlags = [
    "host",
    "port",
    "connect-timeout",
    "message",
    "wait",
    "json",
    "reconnect",
    "reconnect-attempts",
  ];
  for (const flag of clientFlags) assertMatch(client, new RegExp(`--${flag}\\b`));
});

Deno.test("the README's flag tables list every flag of both programs", async () => {
  const readme = await Deno.readTextFile(new URL("../../README.md", import.meta.url));
  for (const help of [serverHelp(), clientHelp()]) {
    for (const [flag] of help.matchAll(/^ {2}--[a-z-]+/gm)) {
      assertMatch(readme, new RegExp(`^\\|.*\`${flag.trim()}[ \`]`, "m"));
    }
  }
});

Deno.test("security flags: --tls-cert implies --tls, --unix-mode is octal, list entries are checked", () => {
  const command = parseServerArgs([
    "--tls-cert",
    "c.pem",
    "--tls-key",
    "k.pem",
    "--unix-mode",
    "0640",
    "--allow",
    "10.0.0.0/8",
  ]);
  if (command.kind !== "run") throw new Error("expected run");
  assertEquals(command.config.tls, true);
  assertEquals(command.config.unixMode, 0o640);
  assertEquals(command.config.allow, ["10.0.0.0/8"]);
  const cases: [string[], RegExp][] = [
    [["--unix-mode", "999"], /^--unix-mode must be an octal mode such as 600, got "999"$/],
    [["--tls-key", "k.pem"], /^--tls-cert and --tls-key go together/],
    [["--deny", "10.0.0.1,nope"], /^--deny: "nope" is not an IP address or a CIDR block/],
    [["--unix", "/tmp/s", "--tls"], /^--tls works over TCP only, not with --unix$/],
  ];
  for (const [args, pattern] of cases) {
    assertMatch(throws(() => parseServerArgs(args), UsageError).message, pattern);
  }
  assertMatch(
    throws(() => parseServerArgs(["--unix", "/tmp/s"], "windows"), UsageError).message,
    /^--unix needs Linux or macOS$/,
  );
});

Deno.test("client: --fingerprint in any spelling is normalized and implies --tls; --ca implies --tls", () => {
  const hex = "ab".repeat(32);
  for (const spelling of [`sha256:${hex}`, `SHA256:${hex.toUpperCase().match(/../g)!.join(":")}`, hex]) {
    const command = parseClientArgs(["--fingerprint", spelling]);
    if (command.kind !== "run") throw new Error("expected run");
    assertEquals(command.config.fingerprint, `SHA256:${"AB:".repeat(31)}AB`);
    assertEquals(command.config.tls, true);
  }
  const ca = parseClientArgs(["--ca", "ca.pem"]);
  assertEquals(ca.kind === "run" && ca.config.tls, true);
  assertMatch(
    throws(() => parseClientArgs(["--fingerprint", "SHA256:12"]), UsageError).message,
    /^--fingerprint must be SHA256: and 64 hex digits/,
  );
});

Deno.test("--redis takes redis:// and rediss:// URLs, shows them without the password, needs chat mode", () => {
  const run = (...args: string[]) => parseServerArgs(["--mode", "chat", ...args]);
  const plain = run("--redis", "redis://10.0.0.5:6380/2", "--room", "lobby-1");
  assertEquals(plain.kind === "run" && [plain.config.redis, plain.config.room], [
    { url: "redis://10.0.0.5:6380/2", shown: "redis://10.0.0.5:6380/2", tls: false },
    "#lobby-1",
  ]);
  const secret = run("--redis", "rediss://app:hunter2@redis.example:6379");
  assertEquals(secret.kind === "run" && secret.config.redis?.shown, "rediss://app:***@redis.example:6379");
  assertEquals(secret.kind === "run" && secret.config.redis?.tls, true);
  const cases: [string[], RegExp][] = [
    [["--redis", "http://x:6379"], /^--redis must start with redis:\/\/ or rediss:\/\/, not http:\/\/$/],
    [["--redis", "not a url"], /^--redis is not a URL/],
    [["--redis", "redis://:pw@h:6379/db"], /^--redis names a database "db": use a number$/],
    [["--redis", "redis://h:6379?x=1"], /^--redis takes no \?query/],
    [
      ["--redis", "redis://h", "--room", "two words"],
      /^--room must be a room's name, got "two words": use 1-32/,
    ],
    [["--redis-ca", "ca.pem"], /^--redis-ca needs a rediss:\/\/ --redis/],
    [
      ["--redis", "redis://h", "--redis-ca", "ca.pem"],
      /^--redis-ca needs a rediss:\/\/ --redis: redis:\/\/ is not/,
    ],
    [["--history", "100001"], /^--history must be at most 100000/],
  ];
  for (const [args, pattern] of cases) assertMatch(throws(() => run(...args), UsageError).message, pattern);
  for (const mode of ["echo", "console"]) {
    assertMatch(
      throws(() => parseServerArgs(["--mode", mode, "--redis", "redis://h"]), UsageError).message,
      /^--redis needs --mode chat/,
    );
    assertMatch(
      throws(() => parseServerArgs(["--mode", mode, "--history", "5"]), UsageError).message,
      /^--history needs --mode chat/,
    );
  }
  assertEquals(
    throws(() => run("--redis", "http://user:hunter2@h"), UsageError).message.includes("hunter2"),
    false,
    "a usage error never shows the password",
  );
});

Deno.test("--web takes [HOST:]PORT, --web-origin takes origins; both checked", () => {
  const web = (...args: string[]) => {
    const command = parseServerArgs(["--mode", "chat", ...args]);
    return command.kind === "run" ? [command.config.web, command.config.webOrigin] : undefined;
  };
  assertEquals(web("--web", "8080"), [{ host: "127.0.0.1", port: 8080 }, []]);
  assertEquals(web("--host", "::1", "--web", ":0"), [{ host: "::1", port: 0 }, []]);
  assertEquals(web("--web", "0.0.0.0:8080"), [{ host: "0.0.0.0", port: 8080 }, []]);
  assertEquals(web("--web", "[::]:8443"), [{ host: "::", port: 8443 }, []]);
  assertEquals(
    web(
      "--web",
      "8080",
      "--web-origin",
      "HTTPS://Chat.Example.com:443/, http://a.test:8080",
      "--web-origin",
      "*",
    ),
    [{ host: "127.0.0.1", port: 8080 }, ["https://chat.example.com", "http://a.test:8080", "*"]],
  );
  const cases: [string[], RegExp][] = [
    [["--web", "80800"], /^--web must be \[HOST:\]PORT, e.g. 8080 or 0\.0\.0\.0:8080, got "80800"$/],
    [["--web", "web"], /^--web must be \[HOST:\]PORT/],
    [["--web", "8080", "--web-origin", "chat.example.com"], /^--web-origin must be an origin such as/],
    [["--web", "8080", "--web-origin", "https://x.test/path"], /^--web-origin must be an origin/],
    [["--web-origin", "https://x.test"], /^--web-origin needs --web$/],
    [
      ["--web", "8080", "--web-host", "bad name"],
      /^--web-host must be a host name such as chat\.example\.com/,
    ],
    [["--web-host", "chat.example.com"], /^--web-host needs --web$/],
    [["--port", "8080", "--web", "8080"], /^--web and --port must be different ports, both are 8080$/],
    [["--port", "8080", "--web", "0.0.0.0:8080"], /^--web and --port must be different ports/],
  ];
  for (const [args, pattern] of cases) assertMatch(throws(() => web(...args), UsageError).message, pattern);
  assertEquals(web("--port", "8080", "--host", "127.0.0.1", "--web", "127.0.0.2:8080")?.[0], {
    host: "127.0.0.2",
    port: 8080,
  });
  const hosts = parseServerArgs([
    "--web",
    "8080",
    "--web-host",
    "Chat.Example.com., [::1]",
    "--web-host",
    "10.1.2.3",
  ]);
  assertEquals(hosts.kind === "run" && hosts.config.webHost, ["chat.example.com", "::1", "10.1.2.3"]);
});
