// The pure parts of the local host, as specifications: --listen grammar, admin token
// check, admin request validation, and how a job reads in a table row.
import { describe, expect, it } from 'vitest';
import type { Job } from '../../shared/jobs/model.js';
import { checkAdminToken } from '../../infra/local/serve/admin-auth.js';
import { AdminInputError, parseJobsQuery, parseReplayBody, parseSyncBody } from '../../infra/local/serve/admin-requests.js';
import { jobDetails, jobRow } from '../../infra/local/serve/job-view.js';
import { formatAddress, parseListen } from '../../infra/local/serve/listen.js';

describe('--listen', () => {
  it('accepts host:port, [v6]:port, :port and a bare port', () => {
    expect(parseListen('127.0.0.1:8080')).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(parseListen('0.0.0.0:80')).toEqual({ host: '0.0.0.0', port: 80 });
    expect(parseListen('[::1]:9000')).toEqual({ host: '::1', port: 9000 });
    expect(parseListen(':8081')).toEqual({ host: '127.0.0.1', port: 8081 });
    expect(parseListen('8082')).toEqual({ host: '127.0.0.1', port: 8082 });
    expect(parseListen('localhost:0')).toEqual({ host: 'localhost', port: 0 });
  });
  it('rejects what is not an address', () => {
    for (const bad of ['', 'localhost', 'host:http', '1.2.3.4:70000', '127.0.0.1:-1']) expect(() => parseListen(bad), bad).toThrow(/invalid --listen/);
  });
  it('formats IPv6 hosts in brackets', () => {
    expect(formatAddress('::1', 8080)).toBe('[::1]:8080');
    expect(formatAddress('127.0.0.1', 8080)).toBe('127.0.0.1:8080');
  });
});

describe('admin token', () => {
  it('is 403 when no token is configured, whatever is sent', () => {
    expect(checkAdminToken(undefined, 'Bearer x')).toMatchObject({ ok: false, status: 403, detail: 'admin.token not configured' });
  });
  it('accepts only the exact bearer token', () => {
    expect(checkAdminToken('s3cret', 'Bearer s3cret')).toEqual({ ok: true });
    expect(checkAdminToken('s3cret', 'bearer s3cret')).toEqual({ ok: true });
    for (const header of [undefined, '', 's3cret', 'Bearer', 'Bearer s3cre', 'Bearer s3cretx', 'Basic s3cret']) {
      expect(checkAdminToken('s3cret', header), String(header)).toMatchObject({ ok: false, status: 401 });
    }
  });
});

describe('admin request validation', () => {
  it('turns a jobs query into a store query with a default limit', () => {
    expect(parseJobsQuery({})).toEqual({ limit: 50 });
    expect(parseJobsQuery({ status: 'dead', policy: 'p', repository: 'team/app', limit: '10', cursor: 'abc' }))
      .toEqual({ status: 'dead', policy: 'p', repository: 'team/app', limit: 10, cursor: 'abc' });
  });
  it('rejects unknown statuses, bad limits and unknown parameters', () => {
    for (const q of [{ status: 'done' }, { limit: '0' }, { limit: '1001' }, { limit: 'ten' }, { sort: 'asc' }]) {
      expect(() => parseJobsQuery(q), JSON.stringify(q)).toThrow(AdminInputError);
    }
  });
  it('accepts exactly one replay selector', () => {
    expect(parseReplayBody({ all: true })).toEqual({ all: true });
    expect(parseReplayBody({ ids: ['a', 'b'] })).toEqual({ jobIds: ['a', 'b'] });
    expect(parseReplayBody({ repository: 'team/app' })).toEqual({ repository: 'team/app' });
    for (const b of [{}, { all: false }, { ids: [] }, { all: true, ids: ['a'] }, null, [], 'all']) {
      expect(() => parseReplayBody(b), JSON.stringify(b)).toThrow(AdminInputError);
    }
  });
  it('accepts a sync of all policies or one', () => {
    expect(parseSyncBody({})).toEqual({});
    expect(parseSyncBody({ policy: 'mirror' })).toEqual({ policy: 'mirror' });
    expect(() => parseSyncBody({ policy: '' })).toThrow(AdminInputError);
  });
});

describe('job table row', () => {
  const base: Job = {
    id: 'j1', key: 'p|dst|team/app|v1', policy: 'p',
    source: { registry: 'src', repository: 'team/app', reference: 'v1' },
    destination: { registry: 'dst', repository: 'mirror/team/app' },
    trigger: { kind: 'manual', at: '2026-01-01T00:00:00.000Z' },
    status: 'dead', attempts: 3, createdAt: '2026-01-01T00:00:00.000Z', updatedAt: '2026-01-01T00:01:00.000Z',
    lastError: { message: 'connection refused', registry: 'dst', transient: true, status: 503 },
  };
  it('shows tags with ":" and digests with "@", and the error with its registry and status', () => {
    expect(jobRow(base)).toEqual({
      id: 'j1', status: 'dead', outcome: '', policy: 'p', source: 'src/team/app:v1', destination: 'dst/mirror/team/app',
      attempts: '3', bytes: '', duration: '', updated: '2026-01-01T00:01:00.000Z', error: 'connection refused (dst HTTP 503)',
    });
    const digest = `sha256:${'b'.repeat(64)}`;
    expect(jobRow({ ...base, source: { ...base.source, reference: digest } }).source).toBe(`src/team/app@${digest}`);
  });
  it('`ferry job` shows when a failed or deferred job runs next, and not once it ran', () => {
    const at = new Date(Date.now() + 60_000).toISOString();
    const next = (job: Job) => jobDetails(job).find(([label]) => label === 'next attempt')?.[1];
    expect(next({ ...base, status: 'failed', nextAttemptAt: at })).toMatch(new RegExp(`^${at.replace(/\./g, '\\.')} \\(in (59|60) s\\)$`));
    expect(next({ ...base, status: 'queued', nextAttemptAt: at })).toBeDefined();
    expect(next({ ...base, status: 'succeeded', nextAttemptAt: at })).toBeUndefined();
  });
  it('keeps long errors to one readable cell', () => {
    const row = jobRow({ ...base, lastError: { message: 'x'.repeat(500), transient: false } });
    expect(row.error.length).toBeLessThanOrEqual(80);
  });
});
