// Gitea / Forgejo `package` webhooks (X-Gitea-Event or X-Forgejo-Event). The image is
// <owner.login>/<name>:<version>, lower-cased as the container registry serves it; the
// version is a tag or, for untagged manifests, a digest. No digest field otherwise.
import * as z from 'zod';
import type { EventParser, ParseResult, WebhookRequest } from './types.js';
import { fieldError } from './common/errors.js';
import { ignoredEvent, normalizedEvent } from './common/events.js';
import { header } from './common/headers.js';
import { bodyEventId, senderId } from './common/ids.js';
import { decodeJsonObject } from './common/json.js';
import { checkRepository, splitReference } from './common/names.js';
import { optionalString, parsePayload, present } from './common/schema.js';
import { isoFromTimestamp, receivedAt } from './common/time.js';

const FORMAT = 'gitea';

const payloadSchema = z.object({
  action: z.string(),
  package: z.object({
    type: optionalString,
    name: optionalString,
    version: optionalString,
    created_at: optionalString,
    owner: z.object({ login: optionalString }).nullish(),
  }),
});

export const parseGitea: EventParser = (request: WebhookRequest): ParseResult => {
  // Decoded before anything else: a body that is not JSON is rejected whatever the event.
  const json = decodeJsonObject(request.body, FORMAT);
  const eventName = header(request, 'x-forgejo-event') ?? header(request, 'x-gitea-event');
  if (eventName === undefined) throw fieldError(FORMAT, 'X-Gitea-Event header', 'is missing');
  const delivery = header(request, 'x-forgejo-delivery') || header(request, 'x-gitea-delivery');
  const id = delivery ? senderId(delivery) : bodyEventId(request.body, 0);
  if (eventName !== 'package') {
    return { events: [], ignored: [ignoredEvent(`gitea ${eventName.slice(0, 60)} event`, id)] };
  }
  const payload = parsePayload(payloadSchema, json, FORMAT);
  const action = payload.action === 'created' ? 'push' : payload.action === 'deleted' ? 'delete' : undefined;
  if (action === undefined) {
    return { events: [], ignored: [ignoredEvent(`gitea package ${payload.action.slice(0, 40)}`, id)] };
  }
  const pkg = payload.package;
  const type = present(pkg.type);
  if (type !== 'container') return { events: [], ignored: [ignoredEvent(`gitea package type ${type ?? '(none)'}`, id)] };
  const owner = present(pkg.owner?.login);
  const name = present(pkg.name);
  if (owner === undefined) throw fieldError(FORMAT, 'package.owner.login', 'is missing');
  if (name === undefined) throw fieldError(FORMAT, 'package.name', 'is missing');
  const repository = checkRepository(`${owner}/${name}`.toLowerCase(), FORMAT, 'package.owner.login/name');
  const version = present(pkg.version);
  if (version === undefined) throw fieldError(FORMAT, 'package.version', 'is missing');
  const { tag, digest } = splitReference(version, FORMAT, 'package.version');
  // created_at is the package version's creation: the push time, but not the delete time.
  const created = present(pkg.created_at);
  const occurredAt = action === 'push' && created !== undefined ? isoFromTimestamp(created, FORMAT, 'package.created_at') : receivedAt();
  return { events: [normalizedEvent({ id, action, repository, tag, digest, occurredAt })], ignored: [] };
};
