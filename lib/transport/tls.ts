/**
 * TLS, both ends. The server listens with a certificate and key in PEM; its connections finish
 * their handshake before anything else (`Stream.handshake`, which the server runs under its own
 * timeout). The client verifies the server against Deno's root certificates plus any it is given;
 * a client that pins a fingerprint instead uses `pinned_tls.ts`.
 */

import type { TcpListenOptions } from "./tcp.ts";
import type { Listener, Stream } from "./transport.ts";

/** A certificate chain and its key, in PEM, with the certificate's fingerprint. */
export interface TlsIdentity {
  /** The certificate chain, PEM. */
  cert: string;
  /** The private key, PEM. */
  key: string;
  /** The certificate's fingerprint, shown where the server says where it listens. */
  fingerprint: string;
}

/** Options for {@linkcode listenTls}. */
export interface TlsListenOptions extends TcpListenOptions, TlsIdentity {}

/** A change of certificate, ready: `commit()` makes it the listener's, `cancel()` drops it. */
export interface PreparedIdentity {
  commit(): void;
  cancel(): void;
}

/** A listener whose certificate can be changed while it listens. */
export interface CertificateHolder {
  /** Readies `identity` to replace the certificate; see {@linkcode TlsListener.prepare}. */
  prepare(identity: TlsIdentity): PreparedIdentity;
}

/** Whether `listener` serves with a certificate that can be changed while it listens. */
export function holdsCertificate(listener: Listener): listener is Listener & CertificateHolder {
  return typeof (listener as Partial<CertificateHolder>).prepare === "function";
}

/** Whether a listener's certificate can be changed while it listens (Linux). */
export const CAN_SWAP_CERTIFICATE = Deno.build.os === "linux";

/**
 * A TLS listener whose certificate can change while it listens (`--tls-cert` reloaded on SIGHUP):
 * Deno's TLS listener keeps the certificate it was made with, so a new one is opened beside it on
 * the same port (both with SO_REUSEPORT, Linux) and the old one closed. New connections get the new
 * certificate; open ones keep theirs. A connection that reached the old listener's queue in the
 * instant before it closed is reset, unless the kernel moves it (`net.ipv4.tcp_migrate_req=1`).
 */
export class TlsListener implements Listener, CertificateHolder {
  readonly addr: Deno.Addr;
  readonly transport = "tls";
  readonly kind = "TLS";
  #options: TlsListenOptions;
  #inner: Deno.TlsListener;
  #fingerprint: string;
  #closed = false;

  constructor(options: TlsListenOptions) {
    // With a port of its own, another listener may join it only if this one says so: a plain bind
    // first fails like any server would when the port is taken, and turns port 0 into a real one.
    const swap = CAN_SWAP_CERTIFICATE && !options.reusePort;
    const port = swap ? probePort(options) : options.port;
    this.#inner = openTls({ ...options, port, reusePort: options.reusePort || swap }, options);
    this.addr = this.#inner.addr;
    // A new certificate's listener opens on the port this one got, whatever was asked for.
    const bound = (this.addr as Deno.NetAddr).port;
    this.#options = { ...options, port: bound, reusePort: options.reusePort || swap };
    this.#fingerprint = options.fingerprint;
  }

  get details(): Readonly<Record<string, string>> {
    return { certificate: this.#fingerprint };
  }

  /** The certificate's fingerprint now. */
  get fingerprint(): string {
    return this.#fingerprint;
  }

  /**
   * Opens a listener with `identity` beside this one, to take its place on `commit()`. Throws a
   * `TypeError` in one sentence when the certificate or key cannot be used, and when the
   * certificate cannot change here (not Linux).
   */
  prepare(identity: TlsIdentity): PreparedIdentity {
    if (!CAN_SWAP_CERTIFICATE) {
      throw new TypeError(`changing the certificate while listening needs Linux, not ${Deno.build.os}`);
    }
    const next = openTls({ ...this.#options, ...identity, reusePort: true }, identity);
    return {
      commit: () => {
        const old = this.#inner;
        this.#inner = next;
        this.#fingerprint = identity.fingerprint;
        this.#options = { ...this.#options, ...identity };
        if (this.#closed) return next.close();
        old.close();
      },
      cancel: () => next.close(),
    };
  }

  async accept(): Promise<Stream> {
    while (true) {
      const inner = this.#inner;
      try {
        return await inner.accept();
      } catch (error) {
        // The listener it waited on was swapped for one with the new certificate: wait there.
        if (inner !== this.#inner && !this.#closed) continue;
        throw error;
      }
    }
  }

  close(): void {
    this.#closed = true;
    this.#inner.close();
  }
}

/**
 * Listens on TCP with TLS. Throws `TypeError` in one sentence when the certificate or key cannot
 * be used (no certificate in the PEM, no key, a key that is not the certificate's).
 */
export function listenTls(options: TlsListenOptions): TlsListener {
  return new TlsListener(options);
}

/**
 * Checks that `identity` can serve TLS (a certificate, a key, and the key the certificate's) by
 * listening with it on a loopback port for a moment. Throws `TypeError` in one sentence when not.
 */
export function checkIdentity(identity: TlsIdentity): void {
  openTls({ host: "127.0.0.1", port: 0 }, identity).close();
}

/** The port a plain bind gets for `options`; throws as `Deno.listen` does when it is taken. */
function probePort(options: TcpListenOptions): number {
  const probe = Deno.listen({ hostname: options.host, port: options.port });
  const { port } = probe.addr as Deno.NetAddr;
  probe.close();
  return port;
}

/** Opens Deno's TLS listener; a certificate or key that cannot be used is one sentence. */
function openTls(options: TcpListenOptions, identity: TlsIdentity): Deno.TlsListener {
  const { host, port, backlog = 4096, reusePort = false } = options;
  try {
    return Deno.listenTls(
      {
        hostname: host,
        port,
        cert: identity.cert,
        key: identity.key,
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
