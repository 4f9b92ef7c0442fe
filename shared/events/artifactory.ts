// JFrog Artifactory webhooks, docker domain: pushed and deleted tags, and promoted (the
// image arrived in the watched repository, so a push). The repository is image_name, the
// path inside the Docker repository, not repo_key (the Artifactory repository itself,
// which is part of the registry address in ferry's config). sha256 has no algorithm prefix.
import { z } from 'zod';
import type { EventParser, ParseResult, WebhookRequest } from './types.js';
import { fieldError } from './common/errors.js';
import { ignoredEvent, normalizedEvent } from './common/events.js';
import { bodyEventId } from './common/ids.js';
import { decodeJson } from './common/json.js';
import { checkDigest, checkRepository, checkTag } from './common/names.js';
import { optionalString, parsePayload, present } from './common/schema.js';
import { receivedAt } from './common/time.js';

const FORMAT = 'artifactory';

const envelopeSchema = z.object({
  domain: z.string(),
  event_type: z.string(),
  data: z.unknown().optional(),
});

const dataSchema = z.object({
  image_name: optionalString,
  tag: optionalString,
  sha256: optionalString,
});

const ACTIONS: Record<string, 'push' | 'delete'> = { pushed: 'push', promoted: 'push', deleted: 'delete' };

export const parseArtifactory: EventParser = (request: WebhookRequest): ParseResult => {
  const id = bodyEventId(request.body, 0);
  const envelope = parsePayload(envelopeSchema, decodeJson(request.body, FORMAT), FORMAT);
  const eventType = envelope.event_type.slice(0, 40);
  if (envelope.domain !== 'docker') {
    return { events: [], ignored: [ignoredEvent(`artifactory ${envelope.domain.slice(0, 40)} ${eventType}`, id)] };
  }
  const action = Object.hasOwn(ACTIONS, envelope.event_type) ? ACTIONS[envelope.event_type] : undefined;
  if (action === undefined) return { events: [], ignored: [ignoredEvent(`artifactory docker ${eventType}`, id)] };
  if (envelope.data === undefined || envelope.data === null) throw fieldError(FORMAT, 'data', 'is missing');
  const data = parsePayload(dataSchema, envelope.data, FORMAT, 'data');
  const repository = checkRepository(present(data.image_name), FORMAT, 'data.image_name');
  const tagValue = present(data.tag);
  const tag = tagValue === undefined ? undefined : checkTag(tagValue, FORMAT, 'data.tag');
  const sha = present(data.sha256);
  const digest = sha === undefined ? undefined : checkDigest(sha.startsWith('sha256:') ? sha : `sha256:${sha}`, FORMAT, 'data.sha256');
  if (tag === undefined && digest === undefined) throw fieldError(FORMAT, 'data', 'event has neither a tag nor a sha256');
  return { events: [normalizedEvent({ id, action, repository, tag, digest, occurredAt: receivedAt() })], ignored: [] };
};
