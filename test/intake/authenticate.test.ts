import { describe, expect, it } from 'vitest';
import { authenticate, authenticateHeaders, secretEquals, type AuthRequest } from '../../shared/intake/authenticate.js';
import { hmac } from './harness.js';

const SECRET = 's3cret-value';
const withSecret = { webhook: { secret: SECRET, allowUnauthenticated: false } };
const body = Buffer.from('{"events":[]}');

function req(headers: Record<string, string> = {}, query: Record<string, string> = {}, b = body): AuthRequest {
  return { headers, query, body: b };
}

describe('webhook authentication', () => {
  it('accepts Authorization: Bearer <secret>', () => {
    expect(authenticate(withSecret, req({ authorization: `Bearer ${SECRET}` }))).toEqual({ ok: true, method: 'authorization' });
    expect(authenticate(withSecret, req({ authorization: `bearer   ${SECRET}` })).ok).toBe(true);
  });

  it('accepts the bare secret as the Authorization value (Harbor sends it verbatim)', () => {
    expect(authenticate(withSecret, req({ authorization: SECRET }))).toEqual({ ok: true, method: 'authorization' });
  });

  it('accepts Basic credentials whose password is the secret (EventBridge API destinations)', () => {
    const basic = Buffer.from(`ferry:${SECRET}`).toString('base64');
    expect(authenticate(withSecret, req({ authorization: `Basic ${basic}` })).ok).toBe(true);
    const wrong = Buffer.from(`${SECRET}:nope`).toString('base64');
    expect(authenticate(withSecret, req({ authorization: `Basic ${wrong}` })).ok).toBe(false);
  });

  it('accepts GitHub X-Hub-Signature-256: sha256=<hex HMAC of the body>', () => {
    expect(authenticate(withSecret, req({ 'x-hub-signature-256': `sha256=${hmac(SECRET, body)}` }))).toEqual({ ok: true, method: 'signature' });
  });

  it('accepts Gitea and Forgejo hex signatures', () => {
    expect(authenticate(withSecret, req({ 'x-gitea-signature': hmac(SECRET, body) })).ok).toBe(true);
    expect(authenticate(withSecret, req({ 'x-forgejo-signature': hmac(SECRET, body) })).ok).toBe(true);
  });

  it('accepts Artifactory X-JFrog-Event-Auth as the secret or as a body signature', () => {
    expect(authenticate(withSecret, req({ 'x-jfrog-event-auth': SECRET }))).toEqual({ ok: true, method: 'event-auth' });
    expect(authenticate(withSecret, req({ 'x-jfrog-event-auth': hmac(SECRET, body) })).ok).toBe(true);
    expect(authenticate(withSecret, req({ 'x-jfrog-event-auth': `sha256=${hmac(SECRET, body)}` })).ok).toBe(true);
  });

  it('accepts ?token=<secret> (senders that cannot set headers)', () => {
    expect(authenticate(withSecret, req({}, { token: SECRET }))).toEqual({ ok: true, method: 'query-token' });
  });

  it('rejects a signature over a different body', () => {
    const other = Buffer.from('{"events":[{}]}');
    expect(authenticate(withSecret, req({ 'x-hub-signature-256': `sha256=${hmac(SECRET, other)}` }, {}, body)).ok).toBe(false);
    expect(authenticate(withSecret, req({ 'x-gitea-signature': hmac('other-secret', body) })).ok).toBe(false);
  });

  it('rejects wrong and missing credentials, saying which', () => {
    expect(authenticate(withSecret, req())).toEqual({ ok: false, reason: 'webhook credentials missing' });
    for (const bad of [
      req({ authorization: 'Bearer wrong' }), req({ authorization: `Bearer ${SECRET}x` }), req({ authorization: SECRET.slice(0, -1) }),
      req({ 'x-hub-signature-256': 'sha256=00' }), req({ 'x-jfrog-event-auth': 'nope' }), req({}, { token: '' }), req({}, { token: SECRET.toUpperCase() }),
    ]) {
      expect(authenticate(withSecret, bad)).toEqual({ ok: false, reason: 'webhook credentials do not match' });
    }
  });

  it('without a secret: 401 always, unless allowUnauthenticated', () => {
    const none = { webhook: { allowUnauthenticated: false } };
    expect(authenticate(none, req({ authorization: 'Bearer anything' })).ok).toBe(false);
    expect(authenticate(none, req({}, { token: '' })).ok).toBe(false);
    expect(authenticate({ webhook: { allowUnauthenticated: true } }, req())).toEqual({ ok: true, method: 'unauthenticated' });
  });

  it('a configured secret is required even when allowUnauthenticated is also set', () => {
    expect(authenticate({ webhook: { secret: SECRET, allowUnauthenticated: true } }, req()).ok).toBe(false);
  });

  it('signing kinds (github, gitea, artifactory) accept only the body signature unless webhook.proofs says otherwise', () => {
    for (const kind of ['github', 'gitea', 'artifactory'] as const) {
      const registry = { kind, webhook: { secret: SECRET, allowUnauthenticated: false } };
      // The plain secret in X-JFrog-Event-Auth reads as a (wrong) signature.
      expect(authenticate(registry, req({ 'x-jfrog-event-auth': SECRET })).ok).toBe(false);
      for (const proof of [req({ authorization: `Bearer ${SECRET}` }), req({}, { token: SECRET })]) {
        const result = authenticate(registry, proof);
        expect(result.ok).toBe(false);
        expect(result.ok ? '' : result.reason).toContain(`kind ${kind} accepts only signature`);
      }
      expect(authenticate(registry, req({ 'x-hub-signature-256': `sha256=${hmac(SECRET, body)}`, authorization: 'Bearer wrong' }))).toEqual({ ok: true, method: 'signature' });
      expect(authenticate(registry, req({ 'x-jfrog-event-auth': hmac(SECRET, body) }))).toEqual({ ok: true, method: 'signature' });
    }
    const opened = { kind: 'artifactory' as const, webhook: { secret: SECRET, allowUnauthenticated: false, proofs: ['signature' as const, 'event-auth' as const] } };
    expect(authenticate(opened, req({ 'x-jfrog-event-auth': SECRET }))).toEqual({ ok: true, method: 'event-auth' });
    expect(authenticate(opened, req({}, { token: SECRET })).ok).toBe(false);
    // Other kinds accept every proof by default, and can be narrowed.
    expect(authenticate({ kind: 'distribution', webhook: { secret: SECRET, allowUnauthenticated: false } }, req({}, { token: SECRET })).ok).toBe(true);
    expect(authenticate({ kind: 'distribution', webhook: { secret: SECRET, allowUnauthenticated: false, proofs: ['authorization'] } }, req({}, { token: SECRET })).ok).toBe(false);
  });

  it('decides header proofs before the body is read; only an accepted signature needs the body', () => {
    const github = { kind: 'github' as const, webhook: { secret: SECRET, allowUnauthenticated: false } };
    expect(authenticateHeaders(github, { headers: {}, query: {} })).toEqual({ ok: false, reason: 'webhook credentials missing' });
    expect(authenticateHeaders(github, { headers: { authorization: `Bearer ${SECRET}` }, query: {} })).toMatchObject({ ok: false });
    expect(authenticateHeaders(github, { headers: { 'x-hub-signature-256': 'sha256=00' }, query: {} })).toEqual({ needsBody: true });
    expect(authenticateHeaders(withSecret, { headers: { authorization: 'Bearer wrong' }, query: {} })).toEqual({ ok: false, reason: 'webhook credentials do not match' });
    expect(authenticateHeaders(withSecret, { headers: { authorization: `Bearer ${SECRET}` }, query: {} })).toEqual({ ok: true, method: 'authorization' });
  });

  it('compares secrets of any length without throwing', () => {
    expect(secretEquals('a', 'a'.repeat(1000))).toBe(false);
    expect(secretEquals('', '')).toBe(true);
    expect(secretEquals(Buffer.from('x'), 'x')).toBe(true);
  });
});
