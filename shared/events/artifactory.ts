// JFrog Artifactory webhooks, docker domain: pushed and deleted tags, and promoted (the
// image arrived in the watched repository, so a push). image_name is the path inside the
// Artifactory repository repo_key. With the repository-path access method (the default,
// and JFrog Cloud's) clients pull `<host>/<repo_key>/<image_name>`, so that is the
// repository; with the subdomain (or port) method the key is part of the host and the
// repository is image_name alone. sha256 has no algorithm prefix.
import * as z from 'zod';
import type { EventParser, ParseOptions, ParseResult, WebhookRequest } from './types.js';
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
  repo_key: optionalString,
  image_name: optionalString,
  tag: optionalString,
  sha256: optionalString,
});

const ACTIONS: Record<string, 'push' | 'delete'> = { pushed: 'push', promoted: 'push', deleted: 'delete' };

export const parseArtifactory: EventParser = (request: WebhookRequest, options: ParseOptions = {}): ParseResult => {
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
  const imageName = checkRepository(present(data.image_name), FORMAT, 'data.image_name');
  const repository = (options.artifactoryAccessMethod ?? 'path') === 'path'
    ? checkRepository(joinRepoKey(present(data.repo_key), imageName), FORMAT, 'data.repo_key')
    : imageName;
  const tagValue = present(data.tag);
  const tag = tagValue === undefined ? undefined : checkTag(tagValue, FORMAT, 'data.tag');
  const sha = present(data.sha256);
  const digest = sha === undefined ? undefined : checkDigest(sha.startsWith('sha256:') ? sha : `sha256:${sha}`, FORMAT, 'data.sha256');
  if (tag === undefined && digest === undefined) throw fieldError(FORMAT, 'data', 'event has neither a tag nor a sha256');
  return { events: [normalizedEvent({ id, action, repository, tag, digest, occurredAt: receivedAt() })], ignored: [] };
};

/** `<repo_key>/<image_name>`; a missing key is a malformed body under the path method. */
function joinRepoKey(repoKey: string | undefined, imageName: string): string {
  if (repoKey === undefined) throw fieldError(FORMAT, 'data.repo_key', 'is missing (registries.<name>.artifactory.accessMethod is path)');
  return `${repoKey}/${imageName}`;
}
