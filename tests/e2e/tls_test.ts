/**
 * TLS against clients nobody here wrote (`openssl s_client`, Python's `ssl`, `ncat --ssl`) and
 * against Parley's own client: the automatic certificate and its fingerprint, a certificate made
 * with openssl and verified with `--ca`, pinning, and handshakes that never finish.
 */

import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import {
  closeAll,
  LINUX,
  runClientProcess,
  runToEnd,
  SERVER_PATH,
  spawnProcess,
  startServer,
  TestClient,
} from "../../scripts/support/harness.ts";
import { connectPinned } from "../../lib/transport/pinned_tls.ts";
import { runClient } from "../../lib/client/run_client.ts";
import type { Terminal } from "../../lib/terminal.ts";

const ignore = !LINUX; // openssl, python3 and ncat come from Debian's packages.

/** Runs `program` with `input` and returns stdout and stderr together. */
async function run(program: string, args: string[], input: string, timeoutMs = 10_000) {
  const result = await runToEnd(args, { program, input, timeoutMs });
  return { ...result, output: result.stdout + result.stderr };
}

/** `SHA256:AB:CD:...` of the certificate a server presents, as openssl computes it. */
async function opensslFingerprint(port: number): Promise<string> {
  const shown = await run("openssl", ["s_client", "-connect", `127.0.0.1:${port}`, "-showcerts"], "");
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(shown.stdout)![0];
  const x509 = await run("openssl", ["x509", "-noout", "-fingerprint", "-sha256"], pem);
  return `SHA256:${/Fingerprint=([0-9A-F:]+)/.exec(x509.stdout)![1]}`;
}

Deno.test(
  "--tls makes a certificate whose fingerprint the server logs and openssl sees",
  { ignore },
  async () => {
    await using server = await startServer(["--mode", "echo", "--tls"]);
    assertMatch(
      server.stderr.seen[0],
      /listening on 127\.0\.0\.1:\d+ \(echo mode, tls, certificate SHA256:[0-9A-F:]{95}\)$/,
    );
    assertEquals(await opensslFingerprint(server.port), server.fingerprint);
    const text = await run("openssl", ["s_client", "-connect", `127.0.0.1:${server.port}`, "-showcerts"], "");
    const pem = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(text.stdout)![0];
    const details = (await run("openssl", ["x509", "-noout", "-text"], pem)).stdout;
    assertMatch(details, /DNS:localhost, IP Address:127\.0\.0\.1, IP Address:0:0:0:0:0:0:0:1/);
    assertMatch(details, /CA:FALSE/);
    assertMatch(details, /ecdsa-with-SHA256/);
  },
);

for (const mode of ["echo", "chat", "console"]) {
  Deno.test(`openssl s_client talks to a --tls server in ${mode} mode`, { ignore }, async () => {
    await using server = await startServer(["--mode", mode, "--tls"], { stdin: mode === "console" });
    const client = spawnProcess("openssl", ["s_client", "-connect", `127.0.0.1:${server.port}`, "-quiet"], {
      stdin: true,
      label: "openssl",
    });
    try {
      await client.type("hello over tls");
      if (mode === "echo") assertEquals(await client.stdout.waitFor("hello over tls"), "hello over tls");
      if (mode === "chat") {
        await client.stdout.waitFor(/^\* welcome, user1/);
        const args = ["--port", String(server.port), "--fingerprint", server.fingerprint!];
        await runClientProcess([...args, "--message", "from parley"]);
        assertEquals(await client.stdout.waitFor(/^<user2>/), "<user2> from parley");
      }
      if (mode === "console") {
        await server.stdout.waitFor(/#1 127\.0\.0\.1:\d+ > hello over tls$/);
        await server.type("hello back");
        assertEquals(await client.stdout.waitFor("hello back"), "hello back");
      }
    } finally {
      await client[Symbol.asyncDispose]();
    }
  });
}

Deno.test(
  "Python's ssl client gets its line back, and sees the fingerprint the server logged",
  { ignore },
  async () => {
    await using server = await startServer(["--mode", "echo", "--tls"]);
    const script = `
import hashlib, socket, ssl, sys
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
with socket.create_connection(("127.0.0.1", int(sys.argv[1]))) as raw:
    with context.wrap_socket(raw, server_hostname="localhost") as tls:
        digest = hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest().upper()
        print("SHA256:" + ":".join(digest[i:i + 2] for i in range(0, 64, 2)))
        tls.sendall(b"from python\\n")
        print(tls.recv(100).decode().strip())
`;
    const result = await run("python3", ["-c", script, String(server.port)], "");
    assertEquals(result.stdout.trim().split("\n"), [server.fingerprint, "from python"], result.output);
  },
);

Deno.test("ncat --ssl talks to a --tls server", { ignore }, async () => {
  await using server = await startServer(["--mode", "echo", "--tls"]);
  const result = await run("ncat", ["--ssl", "127.0.0.1", String(server.port)], "from ncat\n");
  assertEquals(result.stdout, "from ncat\n", result.output);
});

Deno.test("the client pins the logged fingerprint, and refuses another having sent nothing", async () => {
  await using server = await startServer(["--mode", "echo", "--tls"]);
  const good = await runClientProcess([
    "--port",
    String(server.port),
    "--fingerprint",
    server.fingerprint!,
    "--message",
    "pinned",
  ]);
  assertMatch(good.stdout, /\] pinned\n$/);
  assertEquals(good.code, 0);
  const wrong = `SHA256:${"AB:".repeat(31)}AB`;
  const bad = await runClientProcess([
    "--port",
    String(server.port),
    "--fingerprint",
    wrong,
    "--message",
    "secret",
  ]);
  assertEquals(
    bad.stderr,
    `cannot connect to 127.0.0.1:${server.port}: the server's certificate is ${server.fingerprint}, ` +
      `not the pinned ${wrong}; nothing was sent\n`,
  );
  assertEquals(bad.code, 1);
  assertMatch(await server.stderr.waitFor(/#2 disconnected/), /\(0 lines in, 0 out/);
});

Deno.test("--tls without a pin or a CA refuses a self-signed server and says how to pin it", async () => {
  await using server = await startServer(["--mode", "echo", "--tls"]);
  const result = await runClientProcess(["--port", String(server.port), "--tls", "--message", "hi"]);
  assertEquals(
    result.stderr,
    `cannot connect to 127.0.0.1:${server.port}: its TLS certificate is not signed by an authority this ` +
      `client trusts (self-signed, or signed by an unknown authority); if ${server.fingerprint} is the ` +
      `fingerprint the server logged, connect with --fingerprint ${server.fingerprint}\n`,
  );
  assertEquals(result.code, 1);
});

/** A CA, and a server certificate for 127.0.0.1 signed by it, made with openssl. */
async function makeCertificates(dir: string): Promise<void> {
  const sh = (command: string) => run("sh", ["-c", command], "");
  await sh(`cd ${dir} && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -keyout ca.key -out ca.pem -subj /CN=test-ca`);
  await sh(`cd ${dir} && openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key \
    -out server.csr -subj /CN=127.0.0.1`);
  await sh(
    `cd ${dir} && printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nbasicConstraints=CA:FALSE\\n' > ext \
    && openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile ext \
    -out server.pem`,
  );
  await sh(`cd ${dir} && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -keyout other.key -out other.pem -subj /CN=other`);
}

Deno.test("--tls-cert and --tls-key serve a certificate of your own; the client verifies it with --ca", {
  ignore,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "parley-tls-" });
  try {
    await makeCertificates(dir);
    await using server = await startServer(
      ["--mode", "echo", "--tls-cert", `${dir}/server.pem`, "--tls-key", `${dir}/server.key`],
    );
    const own = await run("openssl", [
      "x509",
      "-noout",
      "-fingerprint",
      "-sha256",
      "-in",
      `${dir}/server.pem`,
    ], "");
    assertEquals(server.fingerprint, `SHA256:${/Fingerprint=([0-9A-F:]+)/.exec(own.stdout)![1]}`);
    const verified = await runClientProcess([
      "--port",
      String(server.port),
      "--ca",
      `${dir}/ca.pem`,
      "--message",
      "ok",
    ]);
    assertMatch(verified.stdout, /\] ok\n$/);
    assertEquals(verified.code, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a missing file, a key that is not the certificate's, or a lone --tls-cert: one sentence", {
  ignore,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "parley-tls-" });
  try {
    await makeCertificates(dir);
    const server = (...args: string[]) => runToEnd(["run", "-A", SERVER_PATH, "--port", "0", ...args]);
    const missing = await server("--tls-cert", `${dir}/nope.pem`, "--tls-key", `${dir}/server.key`);
    assertEquals(
      missing.stderr,
      `cannot read the TLS certificate ${dir}/nope.pem: no such file or directory\n`,
    );
    assertEquals(missing.code, 1);
    const mismatched = await server("--tls-cert", `${dir}/server.pem`, "--tls-key", `${dir}/other.key`);
    assertMatch(
      mismatched.stderr,
      /^cannot listen on 127\.0\.0\.1:0 with TLS: the private key does not belong to the certificate\n$/,
    );
    assertEquals(mismatched.code, 1);
    const notPem = await server("--tls-cert", `${dir}/ext`, "--tls-key", `${dir}/server.key`);
    assertEquals(notPem.stderr, `cannot use the TLS certificate ${dir}/ext: it holds no PEM certificate\n`);
    assertEquals(notPem.code, 1);
    const lone = await server("--tls-cert", `${dir}/server.pem`);
    assertEquals(
      lone.stderr,
      "parley-server: --tls-cert and --tls-key go together: a certificate and its private key (see --help)\n",
    );
    assertEquals(lone.code, 2);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a plain-text client, and 100 that never finish a handshake, cost a normal client nothing", async () => {
  await using server = await startServer(["--mode", "echo", "--tls", "--handshake-timeout", "1", "--quiet"]);
  const { stream } = await connectPinned({
    host: "127.0.0.1",
    port: server.port,
    fingerprint: server.fingerprint,
  });
  const silent = await Promise.all(Array.from({ length: 100 }, () => TestClient.connect(server.port)));
  try {
    await using plain = await TestClient.connect(server.port);
    await plain.send("this is not TLS");
    await server.stderr.waitFor(/warn: TLS handshake with 127\.0\.0\.1:\d+ failed: received corrupt message/);
    const buffer = new Uint8Array(64);
    for (let i = 0; i < 20; i++) {
      await stream.write(new TextEncoder().encode(`round trip ${i}\n`));
      let got = "";
      while (!got.endsWith("\n")) {
        got += new TextDecoder().decode(buffer.subarray(0, (await stream.read(buffer))!));
      }
      assertEquals(got, `round trip ${i}\n`);
    }
    // The silent ones are given up on after the handshake timeout, with rate-limited warnings. (Deno's
    // TLS layer keeps their sockets until they send or close: it finishes a handshake it has started
    // in a task of its own, which closing the connection does not stop.)
    await server.stderr.waitFor(/TLS handshake with 127\.0\.0\.1:\d+ failed: timed out after 1 s/);
    await server.stderr.waitFor(/more failed handshakes in that second/);
    const warnings = server.stderr.seen.filter((line) => /TLS handshake/.test(line));
    assert(warnings.length <= 12, `${warnings.length} handshake warnings for 101 failures: not rate-limited`);
    assert(warnings.some((line) => /timed out after 1 s/.test(line)), warnings.join("\n"));
  } finally {
    stream.close();
    await closeAll(silent);
  }
  assertEquals((await server.stop()).code, 0);
  assertMatch(
    await server.stderr.waitFor(/served/),
    /served 1 connection, 20 lines in, \d+ lines out; 101 failed handshakes/,
  );
});

Deno.test("the library refuses a malformed pin with a TypeError naming it, and connects nowhere", async () => {
  // A listener that would accept the connection a fail-open pin makes.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let accepted = 0;
  const accepting = (async () => {
    for await (const conn of listener) {
      accepted++;
      conn.close();
    }
  })();
  const terminal: Terminal = {
    interactive: false,
    lines: (async function* () {})(),
    print() {},
    status() {},
    setPrompt() {},
    onInterrupt() {},
    close() {},
  };
  const port = listener.addr.port;
  for (const pin of ["SHA256:00:11", "sha1:AB:CD", "AB CD", "", "SHA256:" + "G".repeat(64)]) {
    const options = {
      host: "127.0.0.1",
      port,
      connectTimeout: 2,
      wait: 0,
      json: false,
      messages: ["hi"],
      terminal,
    };
    const error = await runClient({ ...options, fingerprint: pin }).then(() => undefined, (e) => e);
    assert.ok(error instanceof TypeError, `${JSON.stringify(pin)}: ${error}`);
    assert.ok(error.message.includes(JSON.stringify(pin)), error.message);
    const direct = await connectPinned({ host: "127.0.0.1", port, fingerprint: pin }).then(
      () => undefined,
      (e) => e,
    );
    assert.ok(direct instanceof TypeError, `connectPinned ${JSON.stringify(pin)}: ${direct}`);
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
  listener.close();
  await accepting;
  assertEquals(accepted, 0, "nothing was sent: not even a connection was made");
});

Deno.test("a client that refuses the server's certificate was never a member: the room hears no join, no leave", async () => {
  await using server = await startServer(["--mode", "chat", "--tls"]);
  await using member = await TestClient.connectPinned(server.port, server.fingerprint!, "member");
  await member.lines.waitFor(/^\* welcome, user1/);
  const wrong = "SHA256:" + Array.from({ length: 32 }, () => "AB").join(":");
  const refused = await runClientProcess([
    "--port",
    String(server.port),
    "--fingerprint",
    wrong,
    "--message",
    "hi",
  ]);
  assertEquals(refused.code, 1);
  await server.stderr.waitFor(/#2 disconnected/);
  // One that stays is announced after the grace: the room is still listening.
  await using stayer = await TestClient.connectPinned(server.port, server.fingerprint!, "stayer");
  await member.lines.waitFor("* user3 joined", 5000);
  assertEquals(member.lines.seen.filter((line) => line.includes("user2")), []);
  await stayer[Symbol.asyncDispose]();
});
