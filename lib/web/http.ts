/**
 * Just enough HTTP/1.1 for the web listener: read one request head, bounded in size, and write one
 * response, after which the connection closes (or becomes a WebSocket). No keep-alive, no bodies
 * in requests, no chunking: a browser asks for the page once and then upgrades to a WebSocket, and
 * anything else is answered with a status and closed.
 */

import type { Stream } from "../transport/transport.ts";
import { writeAll } from "../util/write.ts";

/** Largest request head read; a bigger one is answered with 431. */
export const MAX_HEAD_BYTES = 8192;

/** A request line and its headers. */
export interface RequestHead {
  method: string;
  /** The request target, e.g. `/ws` or `/?x=1`. */
  target: string;
  /** Header names lower-cased; repeated headers joined with `, `. */
  headers: Map<string, string>;
}

/** The request could not be read; `status` is what to answer. */
export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = "HttpError";
  }
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();
const END = encoder.encode("\r\n\r\n");

/**
 * Reads one request head from `stream`. Resolves with it and with the bytes that came after it
 * (a client may send its first frames at once), or with `null` when the stream ended before a byte
 * (a browser's spare connection, closed unused); rejects with {@linkcode HttpError} for a request
 * that is too big or not HTTP, and with the stream's own error if it breaks.
 */
export async function readRequestHead(
  stream: Stream,
): Promise<{ head: RequestHead; rest: Uint8Array } | null> {
  // Most request heads are well under 1 KiB; the buffer doubles up to the limit only for those that
  // are not, so a storm of connections that send nothing costs 1 KiB each, not the limit.
  let buffer = new Uint8Array(Math.min(1024, MAX_HEAD_BYTES));
  let length = 0;
  while (true) {
    if (length === buffer.length) {
      const grown = new Uint8Array(Math.min(buffer.length * 2, MAX_HEAD_BYTES));
      grown.set(buffer);
      buffer = grown;
    }
    const n = await stream.read(buffer.subarray(length));
    if (n === null) {
      // Nobody is left to read an answer: no request at all, not a bad one.
      if (length === 0) return null;
      throw new HttpError(400, "the connection closed before a whole request");
    }
    const from = Math.max(0, length - 3);
    length += n;
    const end = indexOf(buffer.subarray(0, length), END, from);
    if (end !== -1) {
      return {
        head: parseRequestHead(decoder.decode(buffer.subarray(0, end))),
        rest: buffer.slice(end + 4, length),
      };
    }
    if (length === MAX_HEAD_BYTES) throw new HttpError(431, `a request head over ${MAX_HEAD_BYTES} bytes`);
  }
}

/** Parses the text of a request head (without its closing blank line). */
export function parseRequestHead(text: string): RequestHead {
  const [requestLine, ...lines] = text.split("\r\n");
  const match = /^([A-Z]{1,16}) (\S+) HTTP\/1\.[01]$/.exec(requestLine);
  if (match === null) throw new HttpError(400, "not an HTTP/1.1 request");
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon <= 0 || /\s/.test(line.slice(0, colon))) throw new HttpError(400, "a malformed header");
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    const before = headers.get(name);
    headers.set(name, before === undefined ? value : `${before}, ${value}`);
  }
  return { method: match[1], target: match[2], headers };
}

const REASONS: Record<number, string> = {
  101: "Switching Protocols",
  200: "OK",
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  421: "Misdirected Request",
  426: "Upgrade Required",
  431: "Request Header Fields Too Large",
};

/** Writes a response with `headers` and `body`; with a body, the connection is closed after it. */
export async function writeResponse(
  stream: Stream,
  status: number,
  headers: Record<string, string>,
  body?: Uint8Array | string,
): Promise<void> {
  const bytes = typeof body === "string" ? encoder.encode(body) : body;
  const all = bytes === undefined
    ? headers
    : { ...headers, "Content-Length": String(bytes.length), "Connection": "close" };
  const head = [`HTTP/1.1 ${status} ${REASONS[status] ?? "Error"}`]
    .concat(Object.entries(all).map(([name, value]) => `${name}: ${value}`))
    .join("\r\n") + "\r\n\r\n";
  const headBytes = encoder.encode(head);
  const out = new Uint8Array(headBytes.length + (bytes?.length ?? 0));
  out.set(headBytes);
  if (bytes !== undefined) out.set(bytes, headBytes.length);
  await writeAll(stream, out);
}

/** Where `needle` starts in `haystack`, looking from `from`; -1 if it does not. */
function indexOf(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  for (let i = haystack.indexOf(needle[0], from); i !== -1; i = haystack.indexOf(needle[0], i + 1)) {
    if (i + needle.length > haystack.length) return -1;
    let j = 1;
    while (j < needle.length && haystack[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
  }
  return -1;
}
