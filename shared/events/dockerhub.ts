// Docker Hub repository webhooks: push only, a tag and no digest (the job resolves the tag
// at run time). callback_url is legacy and a URL from a payload: ferry never calls it.
import * as z from 'zod';
import type { EventParser, ParseResult, WebhookRequest } from './types.js';
import { fieldError } from './common/errors.js';
import { normalizedEvent } from './common/events.js';
import { bodyEventId } from './common/ids.js';
import { decodeJson } from './common/json.js';
import { checkRepository, checkTag } from './common/names.js';
import { optionalNumber, optionalString, parsePayload, present } from './common/schema.js';
import { isoFromUnixSeconds, receivedAt } from './common/time.js';

const FORMAT = 'dockerhub';

const payloadSchema = z.object({
  push_data: z.object({ pushed_at: optionalNumber, tag: optionalString }),
  repository: z.object({ repo_name: optionalString, namespace: optionalString, name: optionalString }),
});

export const parseDockerHub: EventParser = (request: WebhookRequest): ParseResult => {
  const payload = parsePayload(payloadSchema, decodeJson(request.body, FORMAT), FORMAT);
  const { namespace, name } = payload.repository;
  const repoName = present(payload.repository.repo_name) ?? (present(namespace) && present(name) ? `${namespace}/${name}` : undefined);
  const repository = checkRepository(repoName, FORMAT, 'repository.repo_name');
  const tagValue = present(payload.push_data.tag);
  if (tagValue === undefined) throw fieldError(FORMAT, 'push_data.tag', 'is missing');
  const tag = checkTag(tagValue, FORMAT, 'push_data.tag');
  const pushedAt = payload.push_data.pushed_at;
  return {
    events: [normalizedEvent({
      id: bodyEventId(request.body, 0),
      action: 'push',
      repository,
      tag,
      occurredAt: pushedAt === null || pushedAt === undefined ? receivedAt() : isoFromUnixSeconds(pushedAt, FORMAT, 'push_data.pushed_at'),
    })],
    ignored: [],
  };
};
