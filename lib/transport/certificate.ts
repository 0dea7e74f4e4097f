/**
 * A TLS certificate for a server that was given none: an ECDSA P-256 key pair and a self-signed
 * X.509 v3 certificate, made with WebCrypto and a small DER encoder, no dependency. Nobody can
 * vouch for it, so clients pin it: its SHA-256 fingerprint is what the server prints and what
 * `parley-client --fingerprint` checks, the way ssh trusts a host key.
 *
 * The certificate is an end-entity one (CA:FALSE, which rustls insists on), for server
 * authentication, with subject alternative names for `localhost`, `127.0.0.1`, `::1` and the
 * server's own host (rustls ignores the common name).
 */

import { parseIp } from "../util/ip.ts";

const encoder = new TextEncoder();

// DER: tag, length, contents.
function der(tag: number, ...contents: Uint8Array[]): Uint8Array {
  const length = contents.reduce((sum, part) => sum + part.length, 0);
  const head = length < 0x80
    ? [tag, length]
    : length < 0x100
    ? [tag, 0x81, length]
    : [tag, 0x82, length >> 8, length & 0xff];
  const out = new Uint8Array(head.length + length);
  out.set(head);
  let offset = head.length;
  for (const part of contents) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

const sequence = (...parts: Uint8Array[]) => der(0x30, ...parts);
const set = (...parts: Uint8Array[]) => der(0x31, ...parts);
const octets = (bytes: Uint8Array) => der(0x04, bytes);
const utf8 = (text: string) => der(0x0c, encoder.encode(text));
const explicit = (n: number, part: Uint8Array) => der(0xa0 | n, part);

/** A non-negative INTEGER from big-endian bytes. */
function integer(bytes: Uint8Array): Uint8Array {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const trimmed = bytes.subarray(start);
  return trimmed[0] & 0x80 ? der(0x02, Uint8Array.of(0), trimmed) : der(0x02, trimmed);
}

function oid(dotted: string): Uint8Array {
  const [first, second, ...rest] = dotted.split(".").map(Number);
  const bytes = [first * 40 + second];
  for (const arc of rest) {
    const groups = [arc & 0x7f];
    for (let value = arc >> 7; value > 0; value >>= 7) groups.unshift((value & 0x7f) | 0x80);
    bytes.push(...groups);
  }
  return der(0x06, Uint8Array.from(bytes));
}

function bitString(bytes: Uint8Array, unusedBits = 0): Uint8Array {
  return der(0x03, Uint8Array.of(unusedBits), bytes);
}

/** UTCTime, `YYMMDDHHMMSSZ` (valid for the years 1950 to 2049). */
function utcTime(date: Date): Uint8Array {
  const text = date.toISOString().replace(/[-:T]/g, "").slice(2, 14) + "Z";
  return der(0x17, encoder.encode(text));
}

function extension(id: string, critical: boolean, value: Uint8Array): Uint8Array {
  return critical
    ? sequence(oid(id), der(0x01, Uint8Array.of(0xff)), octets(value))
    : sequence(oid(id), octets(value));
}

/** ECDSA-Sig-Value from WebCrypto's fixed-size `r || s`. */
function signatureValue(raw: Uint8Array): Uint8Array {
  const half = raw.length / 2;
  return sequence(integer(raw.subarray(0, half)), integer(raw.subarray(half)));
}

function pem(label: string, bytes: Uint8Array): string {
  const base64 = btoa(String.fromCharCode(...bytes));
  return `-----BEGIN ${label}-----\n${
    base64.replace(/.{64}/g, "$&\n").replace(/\n?$/, "\n")
  }-----END ${label}-----\n`;
}

/** `SHA256:` and the hex of the SHA-256 of `der`, in pairs: what `openssl x509 -fingerprint` shows. */
export async function fingerprint(der: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", der as BufferSource));
  return `SHA256:${[...digest].map((byte) => byte.toString(16).padStart(2, "0").toUpperCase()).join(":")}`;
}

/** `SHA256:ab:cd...`, `sha256:ABCD...` and `ABCD...` alike, as 64 upper-case hex digits. */
export function normalizeFingerprint(text: string): string | undefined {
  const hex = text.replace(/^sha-?256:/i, "").replace(/:/g, "").toUpperCase();
  return /^[0-9A-F]{64}$/.test(hex) ? hex : undefined;
}

/**
 * The pin `text` as 64 upper-case hex digits. Throws a `TypeError` naming it when it is not a
 * SHA-256 fingerprint: a pin that does not parse must never pass for "no pin".
 */
export function parseFingerprint(text: string): string {
  const hex = normalizeFingerprint(text);
  if (hex === undefined) {
    throw new TypeError(`${JSON.stringify(text)} is not a SHA-256 fingerprint (SHA256: and 64 hex digits)`);
  }
  return hex;
}

/** 64 hex digits as `SHA256:AB:CD:...`, the form the server prints. */
export function formatFingerprint(hex: string): string {
  return `SHA256:${hex.match(/../g)!.join(":")}`;
}

/** The DER bytes of the first certificate in `pem`. */
export function pemToDer(text: string): Uint8Array {
  const match = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/.exec(text);
  if (match === null) throw new TypeError("no PEM certificate found");
  return Uint8Array.from(atob(match[1].replace(/\s+/g, "")), (char) => char.charCodeAt(0));
}

/** A certificate and its key, in PEM, with the certificate's fingerprint. */
export interface CertifiedKey {
  cert: string;
  key: string;
  /** `SHA256:AB:CD:...` */
  fingerprint: string;
}

/** Options for {@linkcode selfSignedCertificate}. */
export interface SelfSignedOptions {
  /** Host names and IP addresses to certify besides localhost, 127.0.0.1 and ::1. */
  hosts?: string[];
  /** How long it is valid, from an hour ago. @default {365} */
  days?: number;
}

/** Makes a fresh key pair and a self-signed certificate for it. */
export async function selfSignedCertificate(options: SelfSignedOptions = {}): Promise<CertifiedKey> {
  const { hosts = [], days = 365 } = options;
  const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]);
  const spki = new Uint8Array(await crypto.subtle.exportKey("spki", pair.publicKey));
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));

  const names = new Map<string, Uint8Array>();
  for (const host of ["localhost", "127.0.0.1", "::1", ...hosts]) {
    const ip = parseIp(host);
    // A wildcard address (0.0.0.0, ::) names no host anyone can connect to.
    if (ip?.every((byte) => byte === 0)) continue;
    names.set(host.toLowerCase(), ip === undefined ? der(0x82, encoder.encode(host)) : der(0x87, ip));
  }
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0] &= 0x7f;
  const name = sequence(set(sequence(oid("2.5.4.3"), utf8("parley"))));
  const ecdsaWithSha256 = sequence(oid("1.2.840.10045.4.3.2"));
  const now = Date.now();
  const tbs = sequence(
    explicit(0, integer(Uint8Array.of(2))), // v3
    integer(serial),
    ecdsaWithSha256,
    name,
    sequence(utcTime(new Date(now - 3600_000)), utcTime(new Date(now + days * 86400_000))),
    name,
    spki,
    explicit(
      3,
      sequence(
        extension("2.5.29.17", false, sequence(...names.values())), // subjectAltName
        extension("2.5.29.19", true, sequence()), // basicConstraints: not a CA
        extension("2.5.29.15", true, bitString(Uint8Array.of(0x80), 7)), // keyUsage: digitalSignature
        extension("2.5.29.37", false, sequence(oid("1.3.6.1.5.5.7.3.1"))), // extKeyUsage: serverAuth
      ),
    ),
  );
  const signature = new Uint8Array(
    await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, pair.privateKey, tbs as BufferSource),
  );
  const certificate = sequence(tbs, ecdsaWithSha256, bitString(signatureValue(signature)));
  return {
    cert: pem("CERTIFICATE", certificate),
    key: pem("PRIVATE KEY", pkcs8),
    fingerprint: await fingerprint(certificate),
  };
}
