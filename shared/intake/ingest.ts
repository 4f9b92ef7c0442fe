// The webhook, HTTP-agnostic (docs/contract.md, "Webhooks"): request in, JSON status + body out. Hosts (ferry
// serve, the Lambda function) only translate transport. It never throws: every outcome,
// bugs included, becomes a JSON answer, because senders such as Distribution retry
// non-2xx forever and a stack trace helps nobody on the other end.
import type { EventKind, FerryConfig, RegistryConfig } from '../config/schema.js';
import { parserFor as defaultParserFor } from '../events/parsers.js';
import { PayloadError, type EventParser, type NormalizedEvent, type ParseResult, type WebhookRequest } from '../events/types.js';
import { enqueue, jobIdFor, type Enqueued } from '../jobs/enqueue.js';
import type { Trigger } from '../jobs/model.js';
import type { Clock, JobQueue, JobStore } from '../jobs/ports.js';
import type { Logger } from '../observability/logger.js';
import { nullLogger } from '../observability/null-logger.js';
import type { MetricsRecorder } from '../observability/recorder.js';
import { referenceProblem, repositoryProblem } from '../oci/grammar.js';
import { digestPushDelayProblem, DIGEST_PUSH_DELAY_SECONDS, planJobs, planReason, type PlannedJob } from '../policy/plan.js';
import { randomUUID } from 'node:crypto';
import type { Delivery } from '../jobs/control-ports.js';
import { authenticate } from './authenticate.js';

export const MAX_WEBHOOK_BODY_BYTES = 1024 * 1024;

export interface IngestDeps {
  config: FerryConfig;
  queue: JobQueue;
  store: JobStore;
  clock?: Clock;
  logger?: Logger;
  metrics?: MetricsRecorder;
  /** Parser lookup; the registry kinds' real parsers unless a host overrides them. */
  parserFor?: (kind: EventKind) => EventParser;
  /**
   * Deferral of digest-only single-platform manifest pushes (possible index children), in
   * seconds, 0..900; 0 = none. Default DIGEST_PUSH_DELAY_SECONDS (see policy/plan.ts).
   */
  digestPushDelaySeconds?: number;
  /** Keeps each delivery to a configured registry (the console's "recent deliveries"). */
  recordDelivery?: (delivery: Delivery) => Promise<void>;
}

/** What one delivery did, filled in as the request is handled. */
interface DeliveryTrace {
  registry?: string;
  events: number;
  jobIds: string[];
  jobsCreated: number;
  ignored: string[];
}

export interface IngestResponse {
  status: number;
  body: Record<string, unknown>;
  /** Extra response headers (Allow on 405). */
  headers?: Record<string, string>;
}

export type Ingest = (request: WebhookRequest) => Promise<IngestResponse>;

export interface AcceptedJob {
  id: string;
  policy: string;
  source: { registry: string; repository: string; reference: string };
  destination: { registry: string; repository: string };
  reason: string;
}

const WEBHOOK_PATH = /^\/webhooks\/([^/]+)\/?$/;
/** Metric label for names that are not configured: attacker-chosen names must not mint series. */
const UNKNOWN_REGISTRY_LABEL = '(unknown)';

function error(status: number, message: string, detail?: string, headers?: Record<string, string>): IngestResponse {
  return { status, body: detail === undefined ? { error: message } : { error: message, detail }, ...(headers ? { headers } : {}) };
}

function registryNameOf(path: string): string | undefined {
  const m = WEBHOOK_PATH.exec(path);
  if (!m) return undefined;
  try {
    return decodeURIComponent(m[1]!);
  } catch {
    return undefined;
  }
}

/** Parsers validate names; checked again here because these strings end up in registry URLs. */
function grammarProblem(event: NormalizedEvent): string | undefined {
  return repositoryProblem(event.repository)
    ?? (event.tag !== undefined ? referenceProblem(event.tag) : undefined)
    ?? (event.digest !== undefined ? referenceProblem(event.digest) : undefined);
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export function createIngest(deps: IngestDeps): Ingest {
  const logger = deps.logger ?? nullLogger;
  const parserFor = deps.parserFor ?? defaultParserFor;
  const registries: Record<string, RegistryConfig> = deps.config.registries;
  const digestPushDelaySeconds = deps.digestPushDelaySeconds ?? DIGEST_PUSH_DELAY_SECONDS;
  const delayProblem = digestPushDelayProblem(digestPushDelaySeconds);
  if (delayProblem) throw new RangeError(delayProblem);

  async function handle(request: WebhookRequest, trace: DeliveryTrace): Promise<IngestResponse> {
    const name = registryNameOf(request.path);
    if (name === undefined) return error(404, 'not found', `webhooks are posted to /webhooks/{registry}, not ${request.path.slice(0, 200)}`);
    if (request.method.toUpperCase() !== 'POST') return error(405, 'method not allowed', `use POST for /webhooks/${name}`, { allow: 'POST' });
    const registry = Object.hasOwn(registries, name) ? registries[name] : undefined;
    if (!registry) return error(404, 'unknown registry', `no registry named ${JSON.stringify(name.slice(0, 100))} is configured`);
    trace.registry = name;
    if (request.body.length > MAX_WEBHOOK_BODY_BYTES) return error(413, 'payload too large', `webhook bodies are limited to ${MAX_WEBHOOK_BODY_BYTES} bytes`);

    const auth = authenticate(registry, request);
    if (!auth.ok) {
      logger.warn({ registry: name, reason: auth.reason }, 'webhook rejected: authentication');
      return error(401, 'unauthorized', auth.reason);
    }

    let parsed: ParseResult;
    try {
      parsed = parserFor(registry.kind)(request, registry.artifactory ? { artifactoryAccessMethod: registry.artifactory.accessMethod } : {});
    } catch (e) {
      if (e instanceof PayloadError) {
        logger.info({ registry: name, error: e.message, detail: e.detail }, 'webhook rejected: payload');
        return error(400, e.message, e.detail ?? e.message);
      }
      throw e;
    }
    for (const event of parsed.events) {
      const problem = grammarProblem(event);
      if (problem) return error(400, 'invalid name in payload', problem);
    }

    const plan = planJobs(deps.config, name, parsed.events, { digestPushDelaySeconds });
    // A destination dropped while the same event made other jobs is not in plan.ignored.
    const partial = plan.templateProblems.filter((p) => !plan.ignored.some((i) => i.id === p.id));
    const ignored = parsed.ignored.length + plan.ignored.length + partial.length;
    const warnings = plan.templateProblems.length > 0 ? { warnings: plan.templateProblems.map((p) => p.reason) } : {};
    if (plan.templateProblems.length > 0) {
      logger.warn({ registry: name, problems: plan.templateProblems }, 'webhook: destinations dropped, their repository template cannot render the event');
    }
    trace.events = parsed.events.length + parsed.ignored.length;
    trace.ignored = [...parsed.ignored, ...plan.ignored, ...partial].map((i) => i.reason);
    if (plan.specs.length === 0) {
      // Info, not debug: "why did my push not replicate?" must be answerable from default logs.
      logger.info({ registry: name, ignored: [...parsed.ignored, ...plan.ignored] }, 'webhook: nothing to replicate');
      return { status: 200, body: { accepted: 0, ignored, jobs: [], ...warnings } };
    }

    let jobs: AcceptedJob[];
    try {
      jobs = await enqueueByEvent(plan.specs, trace);
    } catch (e) {
      logger.error({ registry: name, error: errorText(e) }, 'webhook: queue unavailable');
      return error(503, 'queue unavailable', errorText(e));
    }
    trace.jobIds = jobs.map((j) => j.id);
    const deferred = plan.specs.filter((s) => s.delaySeconds).length;
    logger.info({ registry: name, accepted: jobs.length, ignored, ...(ignored > 0 ? { ignoredReasons: trace.ignored } : {}), jobs: jobs.map((j) => j.id), ...(deferred > 0 ? { deferred, delaySeconds: digestPushDelaySeconds } : {}) }, 'webhook: jobs queued');
    return { status: 202, body: { accepted: jobs.length, ignored, jobs, ...warnings } };
  }

  /** Best effort: a delivery log that cannot be written never changes the answer. */
  async function record(request: WebhookRequest, trace: DeliveryTrace, registry: string, response: IngestResponse): Promise<void> {
    const answered = typeof response.body.error === 'string'
      ? [response.body.error, typeof response.body.detail === 'string' ? response.body.detail : undefined].filter(Boolean).join(': ')
      : undefined;
    try {
      await deps.recordDelivery!({
        id: randomUUID(),
        at: (deps.clock?.now() ?? new Date()).toISOString(),
        registry,
        ...(request.remoteAddress !== undefined ? { remoteAddress: request.remoteAddress } : {}),
        status: response.status,
        events: trace.events,
        jobsCreated: trace.jobsCreated,
        jobIds: trace.jobIds.slice(0, 50),
        ignored: trace.ignored.slice(0, 50),
        ...(answered !== undefined ? { error: answered.slice(0, 500) } : {}),
      });
    } catch (e) {
      logger.warn({ registry, error: errorText(e) }, 'webhook: could not record the delivery');
    }
  }

  /** One trigger per event: the event id is what makes redeliveries map onto the same job. */
  async function enqueueByEvent(specs: PlannedJob[], trace: DeliveryTrace): Promise<AcceptedJob[]> {
    const byEvent = new Map<NormalizedEvent, PlannedJob[]>();
    for (const spec of specs) byEvent.set(spec.event, [...(byEvent.get(spec.event) ?? []), spec]);
    const out: AcceptedJob[] = [];
    for (const [event, group] of byEvent) {
      const trigger: Trigger = { kind: 'event', eventId: event.id, at: event.occurredAt, action: event.action };
      const results = await enqueue({ queue: deps.queue, store: deps.store, ...(deps.clock ? { clock: deps.clock } : {}) }, group, trigger);
      for (const [i, result] of results.entries()) out.push(describeJob(result, group[i]!, trigger));
      const created = results.filter((r) => r.created).length;
      trace.jobsCreated += created;
      deps.metrics?.jobsEnqueued.inc({ trigger: 'event' }, created);
    }
    return out;
  }

  return async (request) => {
    const trace: DeliveryTrace = { events: 0, jobIds: [], jobsCreated: 0, ignored: [] };
    let response: IngestResponse;
    try {
      response = await handle(request, trace);
    } catch (e) {
      logger.error({ err: e, path: request.path }, 'webhook: internal error');
      response = error(500, 'internal error');
    }
    try {
      deps.metrics?.webhookRequests.inc({ registry: trace.registry ?? UNKNOWN_REGISTRY_LABEL, status: String(response.status) });
    } catch {
      // Metrics must never turn an answer into a failure.
    }
    if (trace.registry !== undefined && deps.recordDelivery) await record(request, trace, trace.registry, response);
    return response;
  };
}

function describeJob(result: Enqueued, spec: PlannedJob, trigger: Trigger): AcceptedJob {
  const { job, created } = result;
  let reason = planReason(spec);
  if (!created) {
    reason = job.id === jobIdFor(spec, trigger)
      ? `duplicate delivery of event ${trigger.kind === 'event' ? trigger.eventId : ''}: job already ${job.status}`
      : `duplicate of queued job ${job.id}`;
  }
  return {
    id: job.id,
    policy: job.policy,
    source: { registry: job.source.registry, repository: job.source.repository, reference: job.source.reference },
    destination: { registry: job.destination.registry, repository: job.destination.repository },
    reason,
  };
}
