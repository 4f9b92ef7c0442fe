import { describe, expect, it } from 'vitest';
import { classifyError } from '../../shared/jobs/classify.js';
import { PermanentJobError } from '../../shared/replicate/errors.js';
import { DigestMismatchError, RegistryError, UnsupportedManifestError } from '../../shared/registry/errors.js';

const reg = (status: number | undefined, code?: string) =>
  new RegistryError(`HTTP ${status ?? '-'}`, { registry: 'dr', repository: 'team/app', reference: 'v1', ...(status !== undefined ? { status } : {}), ...(code ? { code } : {}) });

describe('classifyError', () => {
  it.each([500, 502, 503, 504, 429, 408])('HTTP %i is transient', (status) => {
    expect(classifyError(reg(status)).error).toMatchObject({ status, registry: 'dr', transient: true });
  });

  it.each([400, 401, 403, 404, 405])('HTTP %i is permanent', (status) => {
    expect(classifyError(reg(status)).error.transient).toBe(false);
  });

  it.each([
    [404, 'BLOB_UPLOAD_UNKNOWN'], [400, 'BLOB_UPLOAD_INVALID'], [400, 'BLOB_UNKNOWN'], [400, 'MANIFEST_BLOB_UNKNOWN'], [400, 'SIZE_INVALID'], [409, undefined], [416, undefined],
  ])('HTTP %i %s (upload state at the destination) is transient: a fresh upload can succeed', (status, code) => {
    expect(classifyError(reg(status, code)).error.transient).toBe(true);
  });

  it.each([[400, 'MANIFEST_INVALID'], [404, 'MANIFEST_UNKNOWN'], [400, 'NAME_INVALID']])('HTTP %i %s is permanent', (status, code) => {
    expect(classifyError(reg(status, code)).error.transient).toBe(false);
  });

  it('network and timeout codes from the registry client are transient', () => {
    expect(classifyError(reg(undefined, 'NETWORK')).error).toMatchObject({ code: 'NETWORK', transient: true });
    expect(classifyError(reg(undefined, 'TIMEOUT')).error.transient).toBe(true);
  });

  it('an untrusted TLS certificate is permanent: waiting does not make it trusted', () => {
    expect(classifyError(reg(undefined, 'TLS_CERTIFICATE')).error).toMatchObject({ code: 'TLS_CERTIFICATE', transient: false });
  });

  it('a digest mismatch is transient, an unsupported manifest permanent', () => {
    expect(classifyError(new DigestMismatchError('mismatch', { registry: 'src', code: 'DIGEST_MISMATCH' })).error).toMatchObject({ code: 'DIGEST_MISMATCH', transient: true });
    expect(classifyError(new UnsupportedManifestError('schema1', { registry: 'src' })).error.transient).toBe(false);
  });

  it('carries Retry-After', () => {
    const err = new RegistryError('slow down', { registry: 'src', status: 429, retryAfterMs: 7000 });
    expect(classifyError(err)).toEqual({ error: { message: 'slow down', registry: 'src', status: 429, transient: true }, retryAfterMs: 7000 });
  });

  it('finds a registry error or a socket error in the cause chain', () => {
    expect(classifyError(new Error('copy failed', { cause: reg(403) })).error).toMatchObject({ message: 'copy failed', status: 403, transient: false });
    const socket = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    expect(classifyError(new TypeError('fetch failed', { cause: socket })).error).toMatchObject({ code: 'ECONNRESET', transient: true });
    expect(classifyError(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' })).error.transient).toBe(true);
  });

  it('PermanentJobError is permanent; unknown errors and non-errors are transient', () => {
    expect(classifyError(new PermanentJobError('no such policy')).error).toEqual({ message: 'no such policy', code: 'PERMANENT', transient: false });
    expect(classifyError(new Error('???')).error).toEqual({ message: '???', transient: true });
    expect(classifyError('a string').error).toEqual({ message: 'a string', transient: true });
  });

  it('survives a cyclic cause chain', () => {
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    (a as { cause?: unknown }).cause = b;
    expect(classifyError(a).error.transient).toBe(true);
  });
});
