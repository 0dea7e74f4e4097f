/**
 * A fresh self-signed certificate (Parley's own kind: ECDSA P-256, for localhost and 127.0.0.1)
 * and its key, as PEM text and as files in a temporary folder that disposing removes.
 */

import { selfSignedCertificate } from "../../lib/transport/certificate.ts";

/** A certificate and its key, in memory and on disk. */
export interface CertificateFiles extends AsyncDisposable {
  cert: string;
  key: string;
  certPath: string;
  keyPath: string;
}

/** Makes a certificate and writes it and its key to a new temporary folder. */
export async function certificateFiles(): Promise<CertificateFiles> {
  const dir = await Deno.makeTempDir({ prefix: "parley-cert-" });
  const { cert, key } = await selfSignedCertificate();
  const certPath = `${dir}/cert.pem`;
  const keyPath = `${dir}/key.pem`;
  await Deno.writeTextFile(certPath, cert);
  await Deno.writeTextFile(keyPath, key);
  return {
    cert,
    key,
    certPath,
    keyPath,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}
