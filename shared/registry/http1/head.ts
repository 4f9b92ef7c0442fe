// The text parts of HTTP/1.1 (RFC 9112): the request head ferry writes, the response head it
// reads, and how the response body is delimited. Pure functions; the connection does the I/O.
import { HttpClientError } from './errors.js';

export type HeaderValues = Record<string, string | string[]>;

export interface ResponseHead {
  status: number;
  /** Lower-case names; a header sent more than once keeps every value, in order. */
  headers: HeaderValues;
  /** HTTP/1.0, or `Connection: close`: the connection ends with this response. */
  close: boolean;
}

export type BodyFraming =
  | { kind: 'none' }
  | { kind: 'length'; length: number }
  | { kind: 'chunked' }
  /** No length given: the body runs until the server closes the connection. */
  | { kind: 'until-close' };

/** Longest response head accepted (Distribution's are < 1 KiB; proxies add a few headers). */
export const MAX_HEAD_BYTES = 64 * 1024;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Serialises a request line and headers. `host` is the authority to name in `Host`. */
export function requestHead(method: string, target: string, host: string, headers: Record<string, string>): string {
  let head = `${method} ${target} HTTP/1.1\r\nhost: ${host}\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    if (!TOKEN.test(name)) throw new TypeError(`invalid HTTP header name ${JSON.stringify(name)}`);
    if (/[\r\n\0]/.test(value)) throw new TypeError(`invalid value for HTTP header ${name}: contains a line break`);
    if (name.toLowerCase() === 'host') continue;
    head += `${name}: ${value}\r\n`;
  }
  return `${head}\r\n`;
}

/** Parses a response head (status line and header lines, without the blank line ending it). */
export function parseResponseHead(text: string): ResponseHead {
  const lines = text.split('\r\n');
  const statusLine = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/.exec(lines[0] ?? '');
  if (!statusLine) throw new HttpClientError(`not an HTTP/1.x response: ${JSON.stringify((lines[0] ?? '').slice(0, 80))}`, 'HTTP_PROTOCOL');
  const headers: HeaderValues = {};
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new HttpClientError(`malformed response header line ${JSON.stringify(line.slice(0, 80))}`, 'HTTP_PROTOCOL');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    const existing = headers[name];
    if (existing === undefined) headers[name] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else headers[name] = [existing, value];
  }
  const connection = headerList(headers, 'connection');
  const close = statusLine[1] === '0' ? !connection.includes('keep-alive') : connection.includes('close');
  return { status: Number(statusLine[2]), headers, close };
}

/** Comma-separated header values, lower-cased, across repeated headers. */
export function headerList(headers: HeaderValues, name: string): string[] {
  const value = headers[name];
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).flatMap((v) => v.split(',')).map((v) => v.trim().toLowerCase()).filter(Boolean);
}

/** How the body of a response to `method` is delimited (RFC 9112 section 6.3). */
export function bodyFraming(method: string, head: ResponseHead): BodyFraming {
  if (method === 'HEAD' || head.status === 204 || head.status === 304 || head.status < 200) return { kind: 'none' };
  const encodings = headerList(head.headers, 'transfer-encoding');
  if (encodings.length > 0) {
    if (encodings.at(-1) === 'chunked') return { kind: 'chunked' };
    return { kind: 'until-close' };
  }
  const lengths = head.headers['content-length'];
  if (lengths === undefined) return { kind: 'until-close' };
  const values = new Set((Array.isArray(lengths) ? lengths : [lengths]).flatMap((v) => v.split(',')).map((v) => v.trim()));
  const [only] = values;
  if (values.size !== 1 || only === undefined || !/^\d+$/.test(only)) {
    throw new HttpClientError(`invalid Content-Length ${JSON.stringify(lengths)}`, 'HTTP_PROTOCOL');
  }
  const length = Number(only);
  return length === 0 ? { kind: 'none' } : { kind: 'length', length };
}

/** Seconds from `Keep-Alive: timeout=N`, when the server says how long it keeps idle connections. */
export function keepAliveSeconds(headers: HeaderValues): number | undefined {
  for (const part of headerList(headers, 'keep-alive')) {
    const match = /^timeout\s*=\s*(\d+)$/.exec(part);
    if (match) return Number(match[1]);
  }
  return undefined;
}
