/**
 * SIGHUP reloads the certificate as well as the access lists: new clients get the new certificate
 * (as openssl sees it), open connections keep theirs, and a certificate that cannot be used changes
 * nothing but one log line; with `--workers`, every worker changes. Linux: the new listener opens
 * beside the old one on the same port (SO_REUSEPORT).
 */

import { assertEquals, assertMatch } from "../support/assert.ts";
import { certificateFiles } from "../../scripts/support/certificate_files.ts";
import { LINUX, runToEnd, startServer, TestClient } from "../../scripts/support/harness.ts";
import { fingerprint, pemToDer } from "../../lib/transport/certificate.ts";

const ignore = !LINUX; // SO_REUSEPORT, and openssl from Debian's packages.

/** `SHA256:AB:CD:...` of the certificate a server presents to a new client, as openssl computes it. */
async function presented(port: number): Promise<string> {
  const shown = await runToEnd(["s_client", "-connect", `127.0.0.1:${port}`, "-showcerts"], {
    program: "openssl",
    input: "",
    timeoutMs: 10_000,
  });
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(shown.stdout)?.[0];
  if (pem === undefined) throw new Error(`openssl got no certificate: ${shown.stderr}`);
  return await fingerprint(pemToDer(pem));
}

Deno.test("SIGHUP with a new certificate: new clients get it, an open connection keeps its own", {
  ignore,
}, async () => {
  await using first = await certificateFiles();
  await using second = await certificateFiles();
  const [oldPrint, newPrint] = [
    await fingerprint(pemToDer(first.cert)),
    await fingerprint(pemToDer(second.cert)),
  ];
  // The server reads the files at first.certPath and first.keyPath, whatever they hold then.
  await using server = await startServer([
    "--mode",
    "echo",
    "--tls-cert",
    first.certPath,
    "--tls-key",
    first.keyPath,
  ]);
  assertEquals(server.fingerprint, oldPrint);
  await using open = await TestClient.connectPinned(server.port, oldPrint);
  await open.send("before");
  assertEquals(await open.lines.next(), "before");

  await Deno.writeTextFile(first.certPath, second.cert);
  await Deno.writeTextFile(first.keyPath, second.key);
  server.kill("SIGHUP");
  await server.stderr.waitFor(
    new RegExp(`reloaded the access lists \\(0 entries\\) and the certificate ${newPrint}$`),
  );
  assertEquals(await presented(server.port), newPrint);
  await using pinned = await TestClient.connectPinned(server.port, newPrint);
  await pinned.send("new");
  assertEquals(await pinned.lines.next(), "new");
  await open.send("after");
  assertEquals(await open.lines.next(), "after", "the open connection keeps its certificate");

  // A key that is not the certificate's: one sentence, and the certificate in force stays.
  await Deno.writeTextFile(
    first.keyPath,
    await certificateFiles().then(async (third) => {
      const key = third.key;
      await third[Symbol.asyncDispose]();
      return key;
    }),
  );
  server.kill("SIGHUP");
  const failed = await server.stderr.waitFor(/reload failed/);
  assertMatch(
    failed,
    /reload failed, kept the old settings: the private key does not belong to the certificate$/,
  );
  // No PEM at all: the same.
  await Deno.writeTextFile(first.certPath, "not a certificate\n");
  server.kill("SIGHUP");
  assertMatch(await server.stderr.waitFor(/reload failed/), /holds no PEM certificate$/);
  assertEquals(await presented(server.port), newPrint);
  assertEquals(server.stderr.seen.filter((line) => /reload failed/.test(line)).length, 2, "one line each");
});

Deno.test("--workers 2: SIGHUP puts the new certificate and the new deny list in force in every worker", {
  ignore,
}, async () => {
  await using first = await certificateFiles();
  await using second = await certificateFiles();
  const newPrint = await fingerprint(pemToDer(second.cert));
  const dir = await Deno.makeTempDir({ prefix: "parley-reload-" });
  const deny = `${dir}/deny.txt`;
  await Deno.writeTextFile(deny, "# nobody\n");
  try {
    await using server = await startServer([
      "--mode",
      "echo",
      "--workers",
      "2",
      "--tls-cert",
      first.certPath,
      "--tls-key",
      first.keyPath,
      "--deny-file",
      deny,
    ]);
    await server.stderr.waitFor(/2 workers serving/);
    await Deno.writeTextFile(first.certPath, second.cert);
    await Deno.writeTextFile(first.keyPath, second.key);
    await Deno.writeTextFile(deny, "10.0.0.0/8\n");
    server.kill("SIGHUP");
    await server.stderr.waitFor(
      new RegExp(`reloaded the access lists \\(1 entry\\) and the certificate ${newPrint}$`),
    );
    // The kernel spreads new connections over the workers' listeners: each of these lands on one.
    for (let i = 0; i < 8; i++) assertEquals(await presented(server.port), newPrint, `connection ${i}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
