// Every registry kind through ingest, with the parser engineer's fixtures (hand-written
// requests in each sender's documented format, Distribution's captured from 2.8.2).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EventKind } from '../../shared/config/schema.js';
import { fixtureNames } from '../fixtures/load.js';
import { CONFIG_TEXT, fixture, openHarness, REGISTRY_OF_KIND, type Harness } from './harness.js';

let h: Harness;
beforeEach(async () => { h = await openHarness(); });
afterEach(async () => { await h.close(); });

const DIGEST = 'sha256:a2dacb1ff0353680eb008543ad7e5';

/** What each fixture must queue ("repository:reference" per job; reference digests shortened), [] = 200 ignored. */
const EXPECTED: Partial<Record<EventKind, Record<string, string[]>>> = {
  harbor: {
    'push-artifact': ['team/app:v1'],
    'push-artifact-two-resources': ['team/app:v1', 'team/app:v1-debug'],
    'push-artifact-digest-only': [`team/app:${DIGEST}`],
    'delete-artifact': ['team/app:v1'],
    'cloudevents-push': ['team/multi:v1'],
    'cloudevents-delete': ['team/multi:v1'],
    'cloudevents-replication': [], replication: [], 'pull-artifact': [], 'quota-warning': [], 'scanning-completed': [], 'tag-retention': [],
  },
  ecr: { push: ['team/app:v1'], 'push-untagged': [`team/multi:${DIGEST}`], delete: ['team/app:v1'], 'push-failure': [], 'image-scan': [] },
  dockerhub: { push: ['acme/app:v1'] },
  zot: {
    'image-updated': ['team/app:v1'], 'image-deleted': ['team/app:v1'],
    // An untagged single-platform manifest (an index child, or an image pushed only by
    // digest): planned like any digest-only push, deferred (see DEFERRED).
    'image-updated-by-digest': [`team/multi:${DIGEST}`],
    'repository-created': [], 'image-lint-failed': [],
  },
  quay: { 'repo-push': ['acme/app:v1', 'acme/app:latest'], 'build-success': [], 'vulnerability-found': [] },
  github: {
    'registry-package-published': ['acme-org/app:v1'], 'registry-package-updated': ['acme-org/app:latest'],
    'registry-package-published-untagged': [`acme-org/app:${DIGEST}`], ping: [], 'registry-package-npm': [],
  },
  gitea: {
    'package-created': ['acme/app:v1'], 'forgejo-package-created': ['acme/app:v2'], 'package-created-digest': [`acme/app:${DIGEST}`],
    'package-deleted': ['acme/app:v1'], 'package-created-npm': [], 'push-event': [],
  },
  // The path access method (the default): <repo_key>/<image_name>.
  artifactory: {
    pushed: ['docker-local/team/app:v1'], promoted: ['docker-prod/team/app:v1'], deleted: ['docker-local/team/app:v1'],
    'pushed-cloud': ['acme-docker/platform/api:2.4.1'], 'artifact-deployed': [],
  },
};

/** Fixtures whose jobs are deferred (digest-only single-platform pushes): queued, but no message receivable yet. */
const DEFERRED = new Set(['zot/image-updated-by-digest']);

function short(reference: string): string {
  return reference.startsWith('sha256:') ? reference.slice(0, DIGEST.length) : reference;
}

describe.each(Object.keys(EXPECTED) as EventKind[])('%s webhooks', (kind) => {
  const registry = REGISTRY_OF_KIND[kind];
  const table = EXPECTED[kind]!;

  it('the expectations cover every fixture of this kind', () => {
    expect(Object.keys(table).sort()).toEqual(fixtureNames(kind).filter((n) => !n.startsWith('malformed')));
  });

  it.each(Object.entries(table))('%s', async (name, expected) => {
    const responses = [];
    for (const req of fixture(kind, name)) responses.push(await h.ingest(req));
    const jobs = responses.flatMap((r) => (r.body.jobs ?? []) as Array<{ id: string; source: { registry: string; repository: string; reference: string }; destination: { registry: string; repository: string } }>);
    expect(jobs.map((j) => `${j.source.repository}:${short(j.source.reference)}`)).toEqual(expected);
    for (const r of responses) expect(r.status).toBe(expected.length > 0 ? 202 : 200);
    for (const j of jobs) {
      expect(j.source.registry).toBe(registry);
      expect(j.destination).toEqual({ registry: 'dr', repository: `${registry}/${j.source.repository}` });
      expect(await h.backend.store.get(j.id)).toMatchObject({ status: 'queued', trigger: { kind: 'event' } });
    }
    if (expected.length === 0) for (const r of responses) expect(r.body).toMatchObject({ accepted: 0, jobs: [] });
    // Undeferred jobs can be received at once; deferred ones not before their delay (30 s).
    const receivable = (await h.backend.queue.receive(100, 30, 0)).map((m) => m.message.jobId).sort();
    expect(receivable).toEqual(DEFERRED.has(`${kind}/${name}`) ? [] : [...new Set(jobs.map((j) => j.id))].sort());
  });
});

describe('an Artifactory registry with accessMethod: subdomain', () => {
  it('queues jobs for <image_name>, the repository key being part of the host', async () => {
    const text = CONFIG_TEXT.replace('kind: artifactory, webhook:', 'kind: artifactory, artifactory: { accessMethod: subdomain }, webhook:');
    expect(text).not.toBe(CONFIG_TEXT);
    const sub = await openHarness(text);
    try {
      const [res] = await Promise.all(fixture('artifactory', 'pushed-cloud').map((r) => sub.ingest(r)));
      expect(res!.status).toBe(202);
      expect((res!.body.jobs as Array<{ source: { repository: string } }>).map((j) => j.source.repository)).toEqual(['platform/api']);
    } finally {
      await sub.close();
    }
  });
});

describe('Distribution fixtures', () => {
  // A real sender's plausible posts always get 2xx: Distribution retries anything else forever.
  it.each(fixtureNames('distribution'))('%s: 200/202 when authenticated, 401 when not', async (name) => {
    for (const req of fixture('distribution', name)) {
      const res = await h.ingest(req);
      if (req.headers.authorization === undefined) expect(res.status).toBe(401);
      else expect([200, 202]).toContain(res.status);
    }
  });
});
