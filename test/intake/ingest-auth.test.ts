// 401 for every auth style, through ingest, before anything is parsed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventKind } from '../../shared/config/schema.js';
import type { WebhookRequest } from '../../shared/events/types.js';
import { fixture, hmac, openHarness, request, SECRET, type Harness } from './harness.js';

let h: Harness;
beforeAll(async () => { h = await openHarness(); });
afterAll(async () => { await h.close(); });

/** A fixture request (valid, authenticated) of each kind, and how its proof is carried. */
const STYLES: Array<[EventKind, string, string, (r: WebhookRequest) => WebhookRequest]> = [
  ['distribution', 'push-single-arch', 'Authorization: Bearer', (r) => withHeaders(r, { authorization: 'Bearer wrong' })],
  ['harbor', 'push-artifact', 'Authorization verbatim', (r) => withHeaders(r, { authorization: `${SECRET}-not` })],
  ['zot', 'image-updated', 'Authorization: Bearer', (r) => withHeaders(r, { authorization: `Bearer ${SECRET.toUpperCase()}` })],
  ['ecr', 'push', 'Authorization: Bearer', (r) => withHeaders(r, { authorization: 'Bearer ' })],
  ['github', 'registry-package-published', 'X-Hub-Signature-256', (r) => withHeaders(r, { 'x-hub-signature-256': `sha256=${hmac('wrong', r.body)}` })],
  ['gitea', 'package-created', 'X-Gitea-Signature', (r) => withHeaders(r, { 'x-gitea-signature': hmac('wrong', r.body), 'x-hub-signature-256': undefined, 'x-gogs-signature': undefined })],
  ['gitea', 'forgejo-package-created', 'X-Forgejo-Signature', (r) => withHeaders(r, { 'x-forgejo-signature': hmac('wrong', r.body), 'x-gitea-signature': undefined, 'x-hub-signature-256': undefined, 'x-gogs-signature': undefined })],
  ['artifactory', 'pushed', 'X-JFrog-Event-Auth', (r) => withHeaders(r, { 'x-jfrog-event-auth': 'wrong' })],
  ['dockerhub', 'push', '?token=', (r) => ({ ...r, query: { token: 'wrong' } })],
  ['quay', 'repo-push', '?token=', (r) => ({ ...r, query: { token: `${SECRET} ` } })],
];

function withHeaders(r: WebhookRequest, patch: Record<string, string | undefined>): WebhookRequest {
  const headers = { ...r.headers };
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) delete headers[k];
    else headers[k] = v;
  }
  return { ...r, headers };
}

function withoutCredentials(r: WebhookRequest): WebhookRequest {
  const headers = { ...r.headers };
  for (const k of ['authorization', 'x-hub-signature-256', 'x-gitea-signature', 'x-forgejo-signature', 'x-jfrog-event-auth']) delete headers[k];
  return { ...r, headers, query: {} };
}

describe.each(STYLES)('%s/%s (%s)', (kind, name, _style, spoil) => {
  const original = fixture(kind, name).at(-1)!;

  it('is accepted with the right credentials', async () => {
    expect((await h.ingest(original)).status).toBe(202);
  });

  it('401 with wrong credentials', async () => {
    const res = await h.ingest(spoil(original));
    expect(res).toEqual({ status: 401, body: { error: 'unauthorized', detail: 'webhook credentials do not match' } });
  });

  it('401 with no credentials', async () => {
    const res = await h.ingest(withoutCredentials(original));
    expect(res).toEqual({ status: 401, body: { error: 'unauthorized', detail: 'webhook credentials missing' } });
  });

  it('401, not 400, for a malformed body with wrong credentials: nothing is parsed first', async () => {
    const res = await h.ingest({ ...spoil(original), body: Buffer.from('{not json') });
    expect(res.status).toBe(401);
  });
});

describe('signatures cover the exact body', () => {
  it('a valid GitHub signature moved onto another body is rejected', async () => {
    const original = fixture('github', 'registry-package-published')[0]!;
    const tampered = Buffer.from(original.body.toString('utf8').replace('acme-org', 'evil-org'));
    expect((await h.ingest({ ...original, body: tampered })).status).toBe(401);
  });
});

describe('registries without a secret', () => {
  const distribution = fixture('distribution', 'push-single-arch').at(-1)!;

  it('refuse every post (401) unless allowUnauthenticated', async () => {
    const res = await h.ingest(request('closed', distribution.body, { headers: distribution.headers, query: { token: SECRET } }));
    expect(res.status).toBe(401);
    expect(res.body.detail).toMatch(/no webhook secret is configured/);
  });

  it('with allowUnauthenticated: true accept posts without credentials', async () => {
    const res = await h.ingest(request('open', distribution.body));
    expect(res.status).toBe(202);
    expect(res.body.jobs).toEqual([expect.objectContaining({ policy: 'open', destination: { registry: 'dr', repository: 'open/team/app' } })]);
  });
});
