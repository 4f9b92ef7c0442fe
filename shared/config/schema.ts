// The ferry.yaml contract (docs/contract.md, "Config"). Strict objects: an unknown key is an error,
// so typos never pass silently.
import * as z from 'zod';
import { filterProblems, type FilterKind } from './filters.js';
import { templateProblem } from './template.js';
import { PLATFORM_RE } from '../oci/grammar.js';

export const EVENT_KINDS = [
  'distribution', 'harbor', 'ecr', 'dockerhub', 'zot', 'quay', 'github', 'gitea', 'artifactory',
] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

/**
 * Ways a webhook sender proves it knows the secret: `authorization` (Authorization header:
 * Bearer, Basic password or the secret verbatim), `signature` (HMAC-SHA256 of the body in
 * X-Hub-Signature-256, X-Gitea/X-Forgejo-Signature or X-JFrog-Event-Auth), `event-auth`
 * (X-JFrog-Event-Auth carrying the secret itself), `query-token` (?token=).
 */
export const WEBHOOK_PROOFS = ['authorization', 'signature', 'event-auth', 'query-token'] as const;
export type WebhookProof = (typeof WEBHOOK_PROOFS)[number];
/** Kinds whose senders sign the body: only the signature is accepted unless webhook.proofs says otherwise. */
export const SIGNING_KINDS: readonly EventKind[] = ['github', 'gitea', 'artifactory'];

const DURATION_RE = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;
/** "5s", "250ms", "15m", "1h" or a number of seconds -> milliseconds. */
export function parseDuration(value: string | number): number {
  if (typeof value === 'number') return value * 1000;
  const m = DURATION_RE.exec(value.trim());
  if (!m) throw new Error(`invalid duration ${JSON.stringify(value)} (use e.g. 500ms, 5s, 15m, 1h)`);
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  return n * unit;
}

const BANDWIDTH_RE = /^(\d+(?:\.\d+)?)\s*(B|KB|KiB|MB|MiB|GB|GiB)?(?:\/s)?$/;
/** 0, 1048576, "50MiB/s", "10MB/s" -> bytes per second (0 = unlimited). */
export function parseBandwidth(value: string | number): number {
  if (typeof value === 'number') return value;
  const m = BANDWIDTH_RE.exec(value.trim());
  if (!m) throw new Error(`invalid bandwidth ${JSON.stringify(value)} (use e.g. 0, 50MiB/s, 10MB/s)`);
  const mult: Record<string, number> = { B: 1, KB: 1e3, KiB: 1024, MB: 1e6, MiB: 1024 ** 2, GB: 1e9, GiB: 1024 ** 3 };
  return Math.round(Number(m[1]) * mult[m[2] ?? 'B']!);
}

const duration = z.union([z.string(), z.number().nonnegative()]).superRefine((v, ctx) => {
  try { parseDuration(v); } catch (e) { ctx.addIssue({ code: 'custom', message: (e as Error).message }); }
}).transform((v) => parseDuration(v));

const bandwidth = z.union([z.string(), z.number().int().nonnegative()]).superRefine((v, ctx) => {
  try { parseBandwidth(v); } catch (e) { ctx.addIssue({ code: 'custom', message: (e as Error).message }); }
}).transform((v) => parseBandwidth(v));

const registryAuth = z.union([
  z.strictObject({ username: z.string().min(1), password: z.string() }),
  z.strictObject({ token: z.string().min(1) }),
  z.strictObject({ dockerConfig: z.literal(true) }),
  z.strictObject({ ecr: z.strictObject({ region: z.string().min(1) }) }),
  /** AWS host: Secrets Manager secret holding {"username","password"} or {"token"}; resolved at cold start. */
  z.strictObject({ secretArn: z.string().startsWith('arn:') }),
]);

const registry = z.strictObject({
  url: z.string().regex(/^https?:\/\/[^/\s?#]+$/, 'must be scheme://host[:port] with no path').describe('scheme://host[:port] of the registry API; http:// needs insecure: true.'),
  insecure: z.boolean().default(false).describe('Allow plain http://, unverified TLS and a plain http:// token realm for this registry.'),
  tls: z.strictObject({
    ca: z.string().min(1).optional().describe('CA certificate(s) to trust for this registry on top of the default ones: PEM text, or the path of a PEM file.'),
    verify: z.boolean().default(true).describe('Verify the registry certificate (false: accept any; insecure: true also turns it off).'),
  }).optional().describe('TLS trust for an https:// registry.'),
  proxy: z.union([
    z.string().regex(/^https?:\/\/[^/\s?#]+\/?$/, 'must be http(s)://[user:password@]host:port'),
    z.literal(false),
  ]).optional().describe('Forward proxy for this registry (http://host:port), or false for none. Default: HTTP_PROXY / HTTPS_PROXY / NO_PROXY.'),
  allowPrivateRedirects: z.boolean().default(false).describe('Follow blob redirects to private and loopback addresses although the registry is not on one (link-local and metadata addresses are refused regardless).'),
  kind: z.enum(EVENT_KINDS).default('distribution').describe('Webhook format this registry sends; picks the parser for POST /webhooks/<name>.'),
  auth: registryAuth.optional().describe('Credentials ferry uses against this registry: {username,password} | {token} | {dockerConfig: true} | {ecr: {region}} | {secretArn}.'),
  limits: z.strictObject({
    requestsPerSecond: z.number().positive().optional().describe('Hard ceiling on requests per second to this registry (shared by every worker on AWS). Default: no cap; the rate still slows for everyone on 429/503 and recovers after.'),
    concurrency: z.number().int().positive().default(8).describe('Requests in flight at once to this registry.'),
    minRemaining: z.number().int().nonnegative().optional().describe('Pull quota floor (Docker Hub ratelimit-remaining): at or below it, pulls from this registry pause until the window frees some.'),
  }).prefault({}),
  artifactory: z.strictObject({
    accessMethod: z.enum(['path', 'subdomain']).default('path').describe('path (default; JFrog Cloud): images are <host>/<repo_key>/<image_name>, so events map to that repository. subdomain (or port): the repository key is in the host; events map to <image_name>.'),
  }).optional().describe('kind: artifactory only: how clients address the Docker repository (default accessMethod: path).'),
  ecr: z.strictObject({
    createRepositories: z.boolean().default(false).describe('Create a missing destination repository before the first push to it (ECR needs repositories to exist).'),
    repositoryPolicy: z.string().min(1).optional().describe('Repository policy (JSON text) set on repositories ferry creates.'),
    scanOnPush: z.boolean().default(false).describe('Image scanning on push for repositories ferry creates.'),
  }).optional().describe('Amazon ECR destination settings (AWS host; the url must be an ECR registry).'),
  webhook: z.strictObject({
    secret: z.string().min(1).optional().describe('Shared secret senders prove: Authorization Bearer/verbatim, HMAC body signature (github, gitea, artifactory) or ?token=. Use ${env:NAME}.'),
    /** AWS host: Secrets Manager ARN of the webhook secret (never plaintext in a template). */
    secretArn: z.string().startsWith('arn:').optional().describe('AWS: Secrets Manager ARN holding the webhook secret.'),
    allowUnauthenticated: z.boolean().default(false).describe('Accept webhook posts without any secret (warned about at start). Without a secret and this, every post gets 401.'),
    proofs: z.array(z.enum(WEBHOOK_PROOFS)).min(1).optional().describe('Proofs of the secret accepted: authorization, signature, event-auth, query-token. Default: signature only for github, gitea and artifactory; all of them for other kinds.'),
  }).prefault({}),
}).superRefine((r, ctx) => {
  if (r.artifactory !== undefined && r.kind !== 'artifactory') {
    ctx.addIssue({ code: 'custom', path: ['artifactory'], message: `only for kind: artifactory (this registry is kind: ${String(r.kind)})` });
  }
  if (typeof r.url === 'string' && r.url.startsWith('http://') && (r.insecure as unknown) === false) {
    ctx.addIssue({ code: 'custom', path: ['url'], message: 'http:// needs insecure: true (or use https://)' });
  }
  // `when`: also check while other fields of the registry are wrong, so one pass reports all.
}, { when: (payload) => isRecord(payload.value) });

const destination = z.strictObject({
  registry: z.string().min(1).describe('Name of a configured registry.'),
  /** Template: {repository} (full source path), {namespace} (all but the last component), {name} (last component). */
  repository: z.string().min(1).default('{repository}').superRefine((t, ctx) => {
    const problem = templateProblem(t);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }).describe('Destination repository template: {repository}, {namespace}, {name}. Default "{repository}".'),
});

/** A policy's filter list; a malformed entry (e.g. `team/[**`) is an error at its own line. */
function filterList(kind: FilterKind) {
  return z.array(z.string().min(1)).min(1).superRefine((patterns, ctx) => {
    for (const problem of filterProblems(patterns, kind)) ctx.addIssue({ code: 'custom', path: [problem.index], message: problem.message });
  });
}

const policy = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, . _ - (max 64)'),
  source: z.string().min(1).describe('Registry whose events this policy replicates.'),
  repositories: filterList('repository').default(['**']).describe('Doublestar globs over repository paths, or regex:<re> (anchored); "!" excludes.'),
  tags: filterList('tag').default(['*']).describe('Tag filters: globs, semver:<range> (node-semver, "v" prefix tolerated), regex:<re> (anchored); "!" excludes any of them. Digest-only pushes follow their repository.'),
  destinations: z.array(destination).min(1).describe('Where matching images are copied.'),
  deletes: z.boolean().default(false).describe('Propagate deletions to the destinations.'),
  override: z.boolean().default(true).describe('false: never move a tag that already exists at a destination.'),
  referrers: z.boolean().default(true).describe('Copy the OCI 1.1 referrers of every copied manifest (signatures, SBOMs, attestations with a subject), recursively; a referrer pushed later replicates when its subject is at the destination, whatever the tag filter says.'),
  referrerTypes: filterList('repository').optional().describe('Only referrers whose artifactType matches these globs (or regex:); default: every type.'),
  digestTags: z.boolean().default(true).describe("Copy cosign's sha256-<hex>.sig/.att/.sbom tags with their image, whatever the tag filter says."),
  platforms: z.array(z.string().regex(PLATFORM_RE, 'os/architecture[/variant], e.g. linux/amd64 or linux/arm64/v8')).min(1).optional().describe('Copy only these platforms of a multi-arch image: one -> its manifest under the tag; several -> a new index of just those (its digest differs from the source\'s).'),
  // Validated as cron by load.ts (schedule-check.ts): the Lambda functions re-read a baked
  // config that was checked at synth, and carry no cron library.
  schedule: z.string().min(1).optional().describe('Cron expression: periodic reconcile (initial sync + drift repair).'),
});

export const configSchema = z.strictObject({
  backend: z.enum(['embedded', 'aws']).default('embedded').describe('embedded: SQLite under dataDir (one machine); aws: SQS + DynamoDB.'),
  dataDir: z.string().min(1).default('.ferry').describe('Directory of the embedded backend state.'),
  aws: z.strictObject({
    region: z.string().min(1).default('us-east-1').describe('AWS region.'),
    queueUrl: z.string().min(1).optional().describe('SQS jobs queue URL.'),
    deadLetterQueueUrl: z.string().min(1).optional().describe('SQS dead-letter queue URL.'),
    table: z.string().min(1).default('ferry-jobs').describe('DynamoDB job table.'),
    createMissing: z.boolean().default(false).describe('Dev/test only: create queue, DLQ and table when absent.'),
  }).optional().describe('backend: aws settings. Endpoints follow AWS_ENDPOINT_URL_SQS / AWS_ENDPOINT_URL_DYNAMODB.'),
  registries: z.record(z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'registry names: lowercase letters, digits, _ and - (used in webhook URLs)'), registry),
  policies: z.array(policy).default([]).describe('What to replicate: each matching event makes one job per destination.'),
  worker: z.strictObject({
    concurrency: z.number().int().min(1).max(1000).default(3).describe('Jobs at once (Lambda: reserved concurrency).'),
    blobConcurrency: z.number().int().min(1).max(64).default(6).describe('Blobs at once within a job (6, as skopeo and ferry copy).'),
    maxAttempts: z.number().int().min(1).max(100).default(5).describe('Attempts before a job goes to the dead-letter queue.'),
    retryDelay: duration.default(5000).describe('First retry backoff (doubles per attempt with jitter, capped at 15m). e.g. 5s.'),
    bandwidth: bandwidth.default(0).describe('Bytes/s cap for all transfers of a worker; 0 = unlimited; e.g. "50MiB/s".'),
    /** How long a received job stays invisible to other workers (extended while it runs). */
    visibilityTimeout: duration.default(30_000).describe('How long a received job stays hidden from other workers; a heartbeat extends it every third of it while the job runs, so a job whose worker died runs again this soon.'),
    /** SIGTERM: how long running jobs may finish before they are released. */
    shutdownGrace: duration.default(30_000).describe('On SIGTERM, how long running jobs may finish before they are released.'),
    jobTimeout: duration.refine((v) => v >= 1000, 'at least 1s').default(3_600_000)
      .describe('Longest run of one job attempt; a run cut by it is retried (then dead-lettered) like any transient failure.'),
    minTransferRate: bandwidth.default(1024)
      .describe('Blob transfers averaging less than this over minTransferRateWindow are cut (like curl --speed-limit); 0 = off.'),
    minTransferRateWindow: duration.refine((v) => v >= 1000, 'at least 1s').default(60_000)
      .describe('The window minTransferRate is averaged over (like curl --speed-time).'),
    maxIndexDepth: z.number().int().min(1).max(32).default(4)
      .describe('Levels of index nesting a job may walk below the tag (an image in a multi-platform index is level 1); deeper is a permanent error.'),
    maxManifests: z.number().int().min(1).max(100_000).default(1000)
      .describe('Distinct manifests one job may copy (the tag, index children, their children); more is a permanent error.'),
  }).prefault({}),
  admin: z.strictObject({ token: z.string().min(1).optional().describe('Bearer token of the admin API. Use ${env:NAME}.') }).prefault({}),
  /** Terminal job records expire after this long. */
  retention: duration.default(30 * 24 * 3600 * 1000).describe('Finished job records expire after this long (default 720h = 30 days).'),
}).superRefine((cfg, ctx) => {
  // Runs even when other fields failed (`when`), so the parts compared here may be invalid:
  // each is checked for shape first, and only well-formed ones are cross-checked.
  const registries = isRecord(cfg.registries) ? cfg.registries : {};
  const policies: unknown[] = Array.isArray(cfg.policies) ? cfg.policies : [];
  const names = new Set<string>();
  policies.forEach((p, i) => {
    if (!isRecord(p)) return;
    if (typeof p.name === 'string') {
      if (names.has(p.name)) ctx.addIssue({ code: 'custom', path: ['policies', i, 'name'], message: `duplicate policy name ${JSON.stringify(p.name)}` });
      names.add(p.name);
    }
    if (typeof p.source === 'string' && p.source !== '' && !Object.hasOwn(registries, p.source)) {
      ctx.addIssue({ code: 'custom', path: ['policies', i, 'source'], message: `unknown registry ${JSON.stringify(p.source)} (configured: ${Object.keys(registries).join(', ') || 'none'})` });
    }
    const destinations: unknown[] = Array.isArray(p.destinations) ? p.destinations : [];
    destinations.forEach((d, j) => {
      if (isRecord(d) && typeof d.registry === 'string' && d.registry !== '' && !Object.hasOwn(registries, d.registry)) {
        ctx.addIssue({ code: 'custom', path: ['policies', i, 'destinations', j, 'registry'], message: `unknown registry ${JSON.stringify(d.registry)}` });
      }
    });
  });
  if (cfg.backend === 'aws' && !cfg.aws) ctx.addIssue({ code: 'custom', path: ['aws'], message: 'backend: aws needs an aws section' });
}, { when: (payload) => isRecord(payload.value) });

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Config as written (before defaults). */
export type FerryConfigInput = z.input<typeof configSchema>;
/** Config after validation and defaults: what the code uses. Durations are milliseconds. */
export type FerryConfig = z.output<typeof configSchema>;
export type RegistryConfig = FerryConfig['registries'][string];
export type PolicyConfig = FerryConfig['policies'][number];
export type DestinationConfig = PolicyConfig['destinations'][number];
export type RegistryAuthConfig = NonNullable<RegistryConfig['auth']>;
