/**
 * A WebSocket client written by hand over a TCP (or TLS) socket, for what a well-behaved client
 * cannot do: send any Origin, a binary or malformed frame, bad UTF-8, a header announcing a huge
 * frame. It reads the server's frames back as they are.
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The server's answer to an HTTP request: status, headers, and the socket for what follows. */
export interface RawResponse {
  status: number;
  headers: Map<string, string>;
  body: string;
  conn: Deno.Conn;
  /** Bytes read after the head (frames, for a WebSocket). */
  rest: Uint8Array;
}

/** Sends `request` (a whole HTTP request head) on `conn` and reads the response head. */
export async function exchange(conn: Deno.Conn, request: string): Promise<RawResponse> {
  await conn.write(encoder.encode(request));
  let bytes: Uint8Array = new Uint8Array(0);
  const buffer = new Uint8Array(65536);
  while (true) {
    const n = await conn.read(buffer);
    if (n !== null) bytes = concat(bytes, buffer.subarray(0, n));
    const text = decoder.decode(bytes);
    const end = text.indexOf("\r\n\r\n");
    if (end !== -1 || n === null) {
      const head = end === -1 ? text : text.slice(0, end);
      const [statusLine, ...lines] = head.split("\r\n");
      const headers = new Map(lines.map((line) => {
        const colon = line.indexOf(":");
        return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()] as const;
      }));
      const rest = end === -1
        ? new Uint8Array(0)
        : bytes.subarray(encoder.encode(text.slice(0, end + 4)).length);
      return {
        status: Number(statusLine.split(" ")[1] ?? 0),
        headers,
        body: decoder.decode(rest),
        conn,
        rest,
      };
    }
  }
}

/** Options for {@linkcode openRaw}. */
export interface RawOptions {
  /** The `Origin` header; none when undefined. */
  origin?: string;
  /** The `Host` header. @default {127.0.0.1:PORT} */
  host?: string;
  path?: string;
  /** Connect with TLS, trusting these certificates. */
  caCerts?: string[];
}

/** Opens a WebSocket by hand to 127.0.0.1:`port`; resolves with the server's answer. */
export async function openRaw(port: number, options: RawOptions = {}): Promise<RawResponse> {
  const conn = options.caCerts === undefined
    ? await Deno.connect({ hostname: "127.0.0.1", port })
    : await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: options.caCerts });
  const lines = [
    `GET ${options.path ?? "/ws"} HTTP/1.1`,
    `Host: ${options.host ?? `127.0.0.1:${port}`}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Version: 13",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    ...(options.origin === undefined ? [] : [`Origin: ${options.origin}`]),
  ];
  return await exchange(conn, lines.join("\r\n") + "\r\n\r\n");
}

/** A client frame: masked, as RFC 6455 requires of clients. */
export function frame(
  opcode: number,
  payload: Uint8Array | string,
  options: { fin?: boolean; length?: number } = {},
) {
  const bytes = typeof payload === "string" ? encoder.encode(payload) : payload;
  const length = options.length ?? bytes.length;
  const head = length < 126 ? [length | 0x80] : length < 65536 ? [126 | 0x80, length >> 8, length & 0xff] : [
    127 | 0x80,
    ...Array.from({ length: 8 }, (_, i) => Math.floor(length / 2 ** (8 * (7 - i))) & 0xff),
  ];
  const mask = [0x12, 0x34, 0x56, 0x78];
  const out = new Uint8Array(1 + head.length + 4 + bytes.length);
  out[0] = ((options.fin ?? true) ? 0x80 : 0) | opcode;
  out.set(head, 1);
  out.set(mask, 1 + head.length);
  bytes.forEach((byte, i) => out[1 + head.length + 4 + i] = byte ^ mask[i % 4]);
  return out;
}

/** A frame from the server. */
export interface ServerFrame {
  opcode: number;
  payload: Uint8Array;
  /** The payload as text. */
  text: string;
  /** For a close frame: its code. */
  code?: number;
}

/** Reads the server's frames until it closes the socket (or `timeoutMs` passes). */
export async function readFrames(response: RawResponse, timeoutMs = 5000): Promise<ServerFrame[]> {
  let bytes: Uint8Array = response.rest;
  const buffer = new Uint8Array(65536);
  const timer = setTimeout(() => response.conn.close(), timeoutMs);
  try {
    while (true) {
      const n = await response.conn.read(buffer).catch(() => null);
      if (n === null) break;
      bytes = concat(bytes, buffer.subarray(0, n));
    }
  } finally {
    clearTimeout(timer);
    try {
      response.conn.close();
    } catch {
      // Closed by the server, or by the timer.
    }
  }
  const frames: ServerFrame[] = [];
  let at = 0;
  while (at + 2 <= bytes.length) {
    const opcode = bytes[at] & 0x0f;
    let length = bytes[at + 1] & 0x7f;
    let start = at + 2;
    if (length === 126) {
      length = (bytes[at + 2] << 8) | bytes[at + 3];
      start = at + 4;
    } else if (length === 127) {
      length = Number(new DataView(bytes.buffer, bytes.byteOffset + at + 2, 8).getBigUint64(0));
      start = at + 10;
    }
    const payload = bytes.subarray(start, start + length);
    const closing = opcode === 0x8 && payload.length >= 2;
    frames.push({
      opcode,
      payload,
      text: decoder.decode(closing ? payload.subarray(2) : payload),
      ...(closing ? { code: (payload[0] << 8) | payload[1] } : {}),
    });
    at = start + length;
  }
  return frames;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
