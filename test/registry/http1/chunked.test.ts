// Transfer-Encoding: chunked, decoded incrementally: the bytes of a chunked body can arrive
// split at any position, and whatever follows the body belongs to the next response.
import { describe, expect, it } from 'vitest';
import { ChunkedDecoder } from '../../../shared/registry/http1/chunked.js';
import { HttpClientError } from '../../../shared/registry/http1/errors.js';

interface Decoded {
  body: string;
  /** Bytes consumed from each piece fed. */
  consumed: number[];
  done: boolean;
}

function decode(pieces: Buffer[]): Decoded {
  const decoder = new ChunkedDecoder();
  const out: Buffer[] = [];
  const consumed = pieces.map((piece) => decoder.feed(piece, (data) => out.push(Buffer.from(data))));
  return { body: Buffer.concat(out).toString('latin1'), consumed, done: decoder.done };
}

function splitAt(encoded: Buffer, ...points: number[]): Buffer[] {
  const pieces: Buffer[] = [];
  let from = 0;
  for (const point of points) {
    pieces.push(encoded.subarray(from, point));
    from = point;
  }
  pieces.push(encoded.subarray(from));
  return pieces;
}

function protocolError(input: string): HttpClientError {
  try {
    decode([Buffer.from(input, 'latin1')]);
  } catch (e) {
    expect(e).toBeInstanceOf(HttpClientError);
    expect((e as HttpClientError).code).toBe('HTTP_PROTOCOL');
    return e as HttpClientError;
  }
  throw new Error(`expected an HTTP_PROTOCOL error for ${JSON.stringify(input)}`);
}

const ENCODED = Buffer.from(
  '5\r\nhello\r\n'
  + '1;name=value\r\n,\r\n' // a chunk extension
  + 'A ; ext="quoted;semi"\r\n world and\r\n' // upper-case hex, whitespace before the extension
  + '0001\r\n!\r\n' // leading zeros
  + '0;last\r\n'
  + 'Digest: sha-256=abc\r\nX-Trailer: 1\r\n' // trailers
  + '\r\n',
  'latin1',
);
const BODY = 'hello, world and!';

describe('ChunkedDecoder', () => {
  it('decodes a whole body fed at once, extensions and trailers dropped', () => {
    expect(decode([ENCODED])).toEqual({ body: BODY, consumed: [ENCODED.length], done: true });
  });

  it('decodes the same body when the bytes are split at any single position', () => {
    for (let at = 0; at <= ENCODED.length; at++) {
      const result = decode(splitAt(ENCODED, at));
      expect(result.body, `split at ${at}`).toBe(BODY);
      expect(result.done).toBe(true);
      expect(result.consumed).toEqual([at, ENCODED.length - at]);
    }
  });

  it('decodes the same body when the bytes are split at any pair of positions', () => {
    for (let a = 0; a <= ENCODED.length; a++) {
      for (let b = a; b <= ENCODED.length; b++) {
        expect(decode(splitAt(ENCODED, a, b)).body, `split at ${a}, ${b}`).toBe(BODY);
      }
    }
  });

  it('decodes the body fed one byte at a time', () => {
    const bytes = [...ENCODED].map((byte) => Buffer.from([byte]));
    const result = decode(bytes);
    expect(result.body).toBe(BODY);
    expect(result.done).toBe(true);
    expect(result.consumed.every((n) => n === 1)).toBe(true);
  });

  it('hands out chunk data as views of the input, without copying', () => {
    const input = Buffer.from('3\r\nabc\r\n0\r\n\r\n', 'latin1');
    const seen: Buffer[] = [];
    new ChunkedDecoder().feed(input, (data) => seen.push(data));
    expect(seen).toHaveLength(1);
    expect(seen[0]!.buffer).toBe(input.buffer);
    expect(seen[0]!.byteOffset).toBe(input.byteOffset + 3);
  });

  it('passes binary data through unchanged, CR and LF bytes inside chunks included', () => {
    const data = Buffer.from([0, 13, 10, 13, 10, 255, 48, 13]);
    const encoded = Buffer.concat([Buffer.from('8\r\n'), data, Buffer.from('\r\n0\r\n\r\n')]);
    for (let at = 0; at <= encoded.length; at++) {
      const out: Buffer[] = [];
      const decoder = new ChunkedDecoder();
      for (const piece of splitAt(encoded, at)) decoder.feed(piece, (d) => out.push(Buffer.from(d)));
      expect(Buffer.concat(out).equals(data), `split at ${at}`).toBe(true);
      expect(decoder.done).toBe(true);
    }
  });

  it('an empty body is just the last chunk', () => {
    expect(decode([Buffer.from('0\r\n\r\n')])).toEqual({ body: '', consumed: [5], done: true });
  });

  it('is not done until the blank line after the last chunk (and its trailers) has arrived', () => {
    const decoder = new ChunkedDecoder();
    decoder.feed(Buffer.from('3\r\nabc\r\n0\r\nX-T: 1\r\n'), () => undefined);
    expect(decoder.done).toBe(false);
    decoder.feed(Buffer.from('\r'), () => undefined);
    expect(decoder.done).toBe(false);
    decoder.feed(Buffer.from('\n'), () => undefined);
    expect(decoder.done).toBe(true);
  });

  it('does not consume the bytes after the body: they belong to the next response', () => {
    const next = 'HTTP/1.1 200 OK\r\n';
    const input = Buffer.concat([ENCODED, Buffer.from(next)]);
    const result = decode([input]);
    expect(result.body).toBe(BODY);
    expect(result.consumed).toEqual([ENCODED.length]);
    expect(input.subarray(result.consumed[0]).toString()).toBe(next);
  });

  it('consumes nothing more once done', () => {
    const decoder = new ChunkedDecoder();
    decoder.feed(Buffer.from('0\r\n\r\n'), () => undefined);
    expect(decoder.feed(Buffer.from('1\r\nx\r\n'), () => {
      throw new Error('no data after the end');
    })).toBe(0);
  });

  it('rejects a size line that is not hexadecimal with HTTP_PROTOCOL', () => {
    for (const input of ['g\r\n', 'x1\r\n', '-1\r\n', '\r\n', '0x5\r\nhello\r\n', ';ext\r\n', '1 2\r\n', '1234567890abc\r\n']) {
      expect(protocolError(input).message, input).toContain('bad chunk size line');
    }
  });

  it('rejects chunk data longer than its size with HTTP_PROTOCOL', () => {
    expect(protocolError('3\r\nabcd\r\n0\r\n\r\n').message).toContain('longer than its size');
  });

  it('rejects a size line that never ends with HTTP_PROTOCOL instead of buffering it', () => {
    expect(protocolError(`1${';x'.repeat(5000)}`).message).toContain('line too long');
  });
});
