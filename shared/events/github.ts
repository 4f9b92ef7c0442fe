// GitHub Packages (GHCR) `registry_package` webhooks. Other X-GitHub-Event values (ping,
// package, push, ...) are ignored. The repository is namespace/name, lower-cased as GHCR
// serves it; the digest is the package version's name (or the container tag's digest);
// an empty tag name means a digest-only push.
import * as z from 'zod';
import type { EventParser, ParseResult, WebhookRequest } from './types.js';
import { fieldError } from './common/errors.js';
import { ignoredEvent, normalizedEvent } from './common/events.js';
import { header } from './common/headers.js';
import { bodyEventId, senderId } from './common/ids.js';
import { decodeJsonObject } from './common/json.js';
import { checkDigest, checkRepository, checkTag, looksLikeDigest } from './common/names.js';
import { optionalString, parsePayload, present } from './common/schema.js';
import { isoFromTimestamp, receivedAt } from './common/time.js';

const FORMAT = 'github';
const ACTIONS = new Set(['published', 'updated']);

const payloadSchema = z.object({
  action: z.string(),
  registry_package: z.object({
    namespace: optionalString,
    name: optionalString,
    package_type: optionalString,
    updated_at: optionalString,
    package_version: z.object({
      name: optionalString,
      version: optionalString,
      created_at: optionalString,
      updated_at: optionalString,
      container_metadata: z.object({
        tag: z.object({ name: optionalString, digest: optionalString }).nullish(),
      }).nullish(),
    }).nullish(),
  }),
});

export const parseGitHub: EventParser = (request: WebhookRequest): ParseResult => {
  // Decoded before anything else: a body that is not JSON is rejected whatever the event.
  const json = decodeJsonObject(request.body, FORMAT);
  const eventName = header(request, 'x-github-event');
  if (eventName === undefined) throw fieldError(FORMAT, 'X-GitHub-Event header', 'is missing');
  const delivery = header(request, 'x-github-delivery');
  const id = delivery ? senderId(delivery) : bodyEventId(request.body, 0);
  if (eventName !== 'registry_package') {
    return { events: [], ignored: [ignoredEvent(`github ${eventName.slice(0, 60)} event`, id)] };
  }
  const payload = parsePayload(payloadSchema, json, FORMAT);
  const pkg = payload.registry_package;
  if (!ACTIONS.has(payload.action)) {
    return { events: [], ignored: [ignoredEvent(`github registry_package ${payload.action.slice(0, 40)}`, id)] };
  }
  const packageType = present(pkg.package_type)?.toLowerCase();
  if (packageType !== 'container') {
    return { events: [], ignored: [ignoredEvent(`github package type ${packageType ?? '(none)'}`, id)] };
  }
  const namespace = present(pkg.namespace);
  const name = present(pkg.name);
  if (namespace === undefined) throw fieldError(FORMAT, 'registry_package.namespace', 'is missing');
  if (name === undefined) throw fieldError(FORMAT, 'registry_package.name', 'is missing');
  const repository = checkRepository(`${namespace}/${name}`.toLowerCase(), FORMAT, 'registry_package.namespace/name');

  const version = pkg.package_version;
  const containerTag = version?.container_metadata?.tag;
  const tagValue = present(containerTag?.name);
  const tag = tagValue === undefined ? undefined : checkTag(tagValue, FORMAT, 'registry_package.package_version.container_metadata.tag.name');
  const tagDigest = present(containerTag?.digest);
  const versionName = present(version?.name) ?? present(version?.version);
  let digest: string | undefined;
  if (tagDigest !== undefined) {
    digest = checkDigest(tagDigest, FORMAT, 'registry_package.package_version.container_metadata.tag.digest');
  } else if (versionName !== undefined && looksLikeDigest(versionName)) {
    digest = checkDigest(versionName, FORMAT, 'registry_package.package_version.name');
  }
  if (tag === undefined && digest === undefined) {
    throw fieldError(FORMAT, 'registry_package.package_version', 'has neither a digest nor a tag');
  }
  const time = present(version?.updated_at) ?? present(version?.created_at) ?? present(pkg.updated_at);
  return {
    events: [normalizedEvent({
      id,
      action: 'push',
      repository,
      tag,
      digest,
      occurredAt: time === undefined ? receivedAt() : isoFromTimestamp(time, FORMAT, 'registry_package.package_version.updated_at'),
    })],
    ignored: [],
  };
};
