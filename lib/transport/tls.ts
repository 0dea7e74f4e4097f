/**
 * TLS, both ends. The server listens with a certificate and key in PEM; its connections finish
 * their handshake before anything else (`Stream.handshake`, which the server runs under its own
 * timeout). The client verifies the server against Deno's root certificates plus any it is given;
 * a client that pins a fingerprint instead uses `pinned_tls.ts`.
 */

import type { TcpListenOptions } from "./tcp.ts";
import type { Listener, Stream } from "./transport.ts";

/** Options for {@linkcode listenTls}. */
export interface TlsListenOptions extends TcpListenOptions {
  /** The certificate chain, PEM. */
  cert: string;
  /** The private key, PEM. */
  key: string;
  /** The certificate's fingerprint, shown where the server says where it listens. */
  fingerprint: string;
}

/**
 * Listens on TCP with TLS. Throws `TypeError` in one sentence when the certificate or key cannot
 * be used (no certificate in the PEM, no key, a key that is not the certificate's).
 */
export function listenTls(options: TlsListenOptions): Listener {
  const { host, port, backlog = 4096, reusePort = false, cert, key, fingerprint } = options;
  let listener: Deno.TlsListener;
  try {
    listener = Deno.listenTls(
      {
        hostname: host,
        port,
        cert,
        key,
        tcpBacklog: backlog,
        ...(reusePort ? { reusePort } : {}),
      } as Deno.ListenTlsOptions & Deno.TlsCertifiedKeyPem,
    );
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    if (/KeyMismatch|not be consistent/i.test(reason)) {
      throw new TypeError("the private key does not belong to the certificate", { cause: error });
    }
    if (/no certificates found/i.test(reason)) {
      throw new TypeError("no PEM certificate in the certificate file");
    }
    if (/no keys found/i.test(reason)) throw new TypeError("no PEM private key in the key file");
    if (error instanceof Deno.errors.InvalidData) {
      throw new TypeError(`the TLS stack refused them: ${reason}`);
    }
    throw error;
  }
  return {
    addr: listener.addr,
    transport: "tls",
    kind: "TLS",
    details: { certificate: fingerprint },
    accept: () => listener.accept(),
    close: () => listener.close(),
  };
}

/** Options for {@linkcode connectTls}. */
export interface TlsConnectOptions {
  host: string;
  port: number;
  /** Certificates (PEM) to trust besides Deno's root store, e.g. a private CA's. */
  caCerts?: string[];
}

/** Connects over TLS, verifying the server's certificate and name; resolves once the handshake is done. */
export async function connectTls(options: TlsConnectOptions): Promise<Stream> {
  const conn = await Deno.connectTls({
    hostname: options.host,
    port: options.port,
    caCerts: options.caCerts,
  });
  try {
    await conn.handshake();
    return conn;
  } catch (error) {
    conn.close();
    throw error;
  }
}

/** Whether `error` is the TLS stack refusing the server's certificate. */
export function isCertificateError(error: unknown): boolean {
  return error instanceof Error &&
    /certificate|UnknownIssuer|NotValidForName|CertNotValid/i.test(error.message);
}
