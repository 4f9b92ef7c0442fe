// The text of HTTP/1.1 (RFC 9112) as the client writes and reads it: request heads, response
// heads, and which of the four ways a response body is delimited.
import { describe, expect, it } from 'vitest';
import { HttpClientError } from '../../../shared/registry/http1/errors.js';
import {
  bodyFraming, headerList, keepAliveSeconds, parseResponseHead, requestHead, type ResponseHead,
} from '../../../shared/registry/http1/head.js';

function protocolError(fn: () => unknown): HttpClientError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(HttpClientError);
    expect((e as HttpClientError).code).toBe('HTTP_PROTOCOL');
    return e as HttpClientError;
  }
  throw new Error('expected an HTTP_PROTOCOL error');
}

function head(status: number, headers: ResponseHead['headers'] = {}): ResponseHead {
  return { status, headers, close: false };
}

describe('requestHead', () => {
  it('writes the request line, Host first, then the headers as given, and a blank line', () => {
    expect(requestHead('GET', '/v2/team/app/manifests/v1?n=1', 'registry.local:5000', { accept: 'application/json', 'X-Trace': 'a b' }))
      .toBe('GET /v2/team/app/manifests/v1?n=1 HTTP/1.1\r\nhost: registry.local:5000\r\naccept: application/json\r\nX-Trace: a b\r\n\r\n');
  });

  it('names the host once: a Host header among the headers is dropped in favour of the authority', () => {
    expect(requestHead('HEAD', '/', 'a.example', { Host: 'b.example', 'content-length': '0' }))
      .toBe('HEAD / HTTP/1.1\r\nhost: a.example\r\ncontent-length: 0\r\n\r\n');
  });

  it('rejects header values that would inject lines (CR, LF, NUL)', () => {
    expect(() => requestHead('GET', '/', 'h', { 'x-a': 'ok\r\nx-injected: 1' })).toThrow(TypeError);
    expect(() => requestHead('GET', '/', 'h', { 'x-a': 'ok\nx-injected: 1' })).toThrow(TypeError);
    expect(() => requestHead('GET', '/', 'h', { 'x-a': 'ok\r' })).toThrow(TypeError);
    expect(() => requestHead('GET', '/', 'h', { 'x-a': 'nul\0' })).toThrow(TypeError);
    // Even for a Host header that would be dropped anyway.
    expect(() => requestHead('GET', '/', 'h', { host: 'x\r\ny' })).toThrow(TypeError);
  });

  it('rejects header names that are not HTTP tokens', () => {
    for (const name of ['', 'x a', 'x:a', 'x\r\ny', 'x\n', 'ü', '(x)', 'x/y']) {
      expect(() => requestHead('GET', '/', 'h', { [name]: 'v' }), name).toThrow(TypeError);
    }
    expect(requestHead('GET', '/', 'h', { "x!#$%&'*+-.^_`|~09Az": 'v' })).toContain("x!#$%&'*+-.^_`|~09Az: v\r\n");
  });
});

describe('parseResponseHead', () => {
  it('reads the status and lower-cases header names, trimming values', () => {
    expect(parseResponseHead('HTTP/1.1 201 Created\r\nLocation:  /v2/x/blobs/uploads/1 \r\nDocker-Upload-UUID:1\r\nContent-Length: 0')).toEqual({
      status: 201,
      headers: { location: '/v2/x/blobs/uploads/1', 'docker-upload-uuid': '1', 'content-length': '0' },
      close: false,
    });
  });

  it('accepts a status line without a reason phrase, or with an empty one', () => {
    expect(parseResponseHead('HTTP/1.1 200').status).toBe(200);
    expect(parseResponseHead('HTTP/1.1 404 ').status).toBe(404);
    expect(parseResponseHead('HTTP/1.1 418 I\'m a teapot').status).toBe(418);
  });

  it('keeps every value of a header sent more than once, in order, whatever the case of its name', () => {
    const { headers } = parseResponseHead('HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm="a"\r\nwww-authenticate: Basic realm="b"\r\nLink: <1>\r\nLINK: <2>\r\nLink: <3>');
    expect(headers['www-authenticate']).toEqual(['Bearer realm="a"', 'Basic realm="b"']);
    expect(headers.link).toEqual(['<1>', '<2>', '<3>']);
  });

  it('keeps colons inside values', () => {
    expect(parseResponseHead('HTTP/1.1 200 OK\r\nLocation: http://127.0.0.1:5000/v2/').headers.location).toBe('http://127.0.0.1:5000/v2/');
  });

  it('HTTP/1.1 keeps the connection unless Connection: close (in any case, in any list position)', () => {
    expect(parseResponseHead('HTTP/1.1 200 OK').close).toBe(false);
    expect(parseResponseHead('HTTP/1.1 200 OK\r\nConnection: keep-alive').close).toBe(false);
    expect(parseResponseHead('HTTP/1.1 200 OK\r\nConnection: close').close).toBe(true);
    expect(parseResponseHead('HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close').close).toBe(true);
    expect(parseResponseHead('HTTP/1.1 200 OK\r\nConnection: upgrade\r\nConnection: CLOSE').close).toBe(true);
  });

  it('HTTP/1.0 closes the connection unless it says Connection: keep-alive', () => {
    expect(parseResponseHead('HTTP/1.0 200 OK').close).toBe(true);
    expect(parseResponseHead('HTTP/1.0 200 OK\r\nContent-Length: 3').close).toBe(true);
    expect(parseResponseHead('HTTP/1.0 200 OK\r\nConnection: Keep-Alive').close).toBe(false);
  });

  it('rejects what is not an HTTP/1.x status line with HTTP_PROTOCOL', () => {
    for (const line of ['', 'HTTP/2 200', 'HTTP/1.1 20 OK', 'HTTP/1.1 2000 OK', 'HTTP/1.1 OK', 'http/1.1 200 OK', 'SSH-2.0-OpenSSH_9.6', 'HTTP/1.1  200 OK', 'HTTP/1.2 200 OK']) {
      const err = protocolError(() => parseResponseHead(`${line}\r\nContent-Length: 0`));
      expect(err.message).toContain('not an HTTP/1.x response');
    }
  });

  it('rejects header lines without a name and colon with HTTP_PROTOCOL', () => {
    protocolError(() => parseResponseHead('HTTP/1.1 200 OK\r\nno colon here'));
    protocolError(() => parseResponseHead('HTTP/1.1 200 OK\r\n: empty name'));
    protocolError(() => parseResponseHead('HTTP/1.1 200 OK\r\nA: 1\r\n\r\nB: 2'));
  });
});

describe('headerList', () => {
  it('splits comma-separated values across repeated headers, lower-cased, without empty members', () => {
    expect(headerList({ connection: ['Keep-Alive, Upgrade', ' close ,'] }, 'connection')).toEqual(['keep-alive', 'upgrade', 'close']);
    expect(headerList({}, 'connection')).toEqual([]);
  });
});

describe('bodyFraming', () => {
  it('a response to HEAD has no body, whatever its headers announce', () => {
    expect(bodyFraming('HEAD', head(200, { 'content-length': '1048576' }))).toEqual({ kind: 'none' });
    expect(bodyFraming('HEAD', head(200, { 'transfer-encoding': 'chunked' }))).toEqual({ kind: 'none' });
    expect(bodyFraming('HEAD', head(200))).toEqual({ kind: 'none' });
  });

  it('1xx, 204 and 304 responses have no body', () => {
    for (const status of [100, 102, 103, 204, 304]) {
      expect(bodyFraming('GET', head(status, { 'content-length': '10' })), String(status)).toEqual({ kind: 'none' });
      expect(bodyFraming('GET', head(status, { 'transfer-encoding': 'chunked' })), String(status)).toEqual({ kind: 'none' });
    }
  });

  it('chunked as the last transfer coding delimits the body, and wins over Content-Length', () => {
    expect(bodyFraming('GET', head(200, { 'transfer-encoding': 'chunked' }))).toEqual({ kind: 'chunked' });
    expect(bodyFraming('GET', head(200, { 'transfer-encoding': 'gzip, Chunked' }))).toEqual({ kind: 'chunked' });
    expect(bodyFraming('GET', head(200, { 'transfer-encoding': ['gzip', 'chunked'] }))).toEqual({ kind: 'chunked' });
    expect(bodyFraming('GET', head(200, { 'transfer-encoding': 'chunked', 'content-length': '5' }))).toEqual({ kind: 'chunked' });
  });

  it('a transfer coding other than a final chunked runs until the connection closes', () => {
    expect(bodyFraming('GET', head(200, { 'transfer-encoding': 'chunked, gzip' }))).toEqual({ kind: 'until-close' });
    expect(bodyFraming('GET', head(200, { 'transfer-encoding': 'gzip', 'content-length': '5' }))).toEqual({ kind: 'until-close' });
  });

  it('Content-Length gives the length; zero means no body', () => {
    expect(bodyFraming('GET', head(200, { 'content-length': '5' }))).toEqual({ kind: 'length', length: 5 });
    expect(bodyFraming('PUT', head(201, { 'content-length': '0' }))).toEqual({ kind: 'none' });
    expect(bodyFraming('GET', head(200, { 'content-length': ' 7 ' }))).toEqual({ kind: 'length', length: 7 });
  });

  it('repeated Content-Length values that agree are one length', () => {
    expect(bodyFraming('GET', head(200, { 'content-length': '5, 5' }))).toEqual({ kind: 'length', length: 5 });
    expect(bodyFraming('GET', head(200, { 'content-length': ['5', '5'] }))).toEqual({ kind: 'length', length: 5 });
  });

  it('conflicting or malformed Content-Length values are a protocol error', () => {
    for (const value of ['5, 6', ['5', '6'], '-1', '', 'abc', '0x10', '1.5', '5,']) {
      const err = protocolError(() => bodyFraming('GET', head(200, { 'content-length': value })));
      expect(err.message).toContain('invalid Content-Length');
    }
  });

  it('no length and no transfer coding: the body runs until the server closes', () => {
    expect(bodyFraming('GET', head(200))).toEqual({ kind: 'until-close' });
    expect(bodyFraming('GET', head(500, { 'content-type': 'text/plain' }))).toEqual({ kind: 'until-close' });
  });
});

describe('keepAliveSeconds', () => {
  it('reads timeout=N from Keep-Alive, among other parameters', () => {
    expect(keepAliveSeconds({ 'keep-alive': 'timeout=5' })).toBe(5);
    expect(keepAliveSeconds({ 'keep-alive': 'max=100, timeout=30' })).toBe(30);
    expect(keepAliveSeconds({ 'keep-alive': 'Timeout = 2, max=1000' })).toBe(2);
    expect(keepAliveSeconds({ 'keep-alive': ['max=3', 'timeout=0'] })).toBe(0);
  });

  it('is undefined when the server does not say', () => {
    expect(keepAliveSeconds({})).toBeUndefined();
    expect(keepAliveSeconds({ 'keep-alive': 'max=100' })).toBeUndefined();
    expect(keepAliveSeconds({ 'keep-alive': 'timeout=soon' })).toBeUndefined();
  });
});
