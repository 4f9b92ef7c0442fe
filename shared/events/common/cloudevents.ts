// CloudEvents 1.0, both HTTP modes: structured (the whole event is the JSON body, Harbor)
// and binary (attributes in ce-* headers, the body is the data, zot).
import * as z from 'zod';
import type { WebhookRequest } from '../types.js';
import { contentType, header } from './headers.js';
import { optionalString, parsePayload } from './schema.js';

export interface CloudEventAttributes {
  id?: string | undefined;
  type?: string | undefined;
  time?: string | undefined;
  source?: string | undefined;
}

const structuredSchema = z.object({
  specversion: z.string(),
  id: z.string(),
  type: z.string(),
  source: optionalString,
  time: optionalString,
  data: z.unknown().optional(),
});

export type StructuredCloudEvent = z.output<typeof structuredSchema>;

export function isStructuredCloudEvent(request: Pick<WebhookRequest, 'headers'>, body: unknown): boolean {
  if (contentType(request) === 'application/cloudevents+json') return true;
  return typeof body === 'object' && body !== null && !Array.isArray(body) && 'specversion' in body;
}

export function parseStructuredCloudEvent(body: unknown, format: string): StructuredCloudEvent {
  return parsePayload(structuredSchema, body, format);
}

/** Attributes from ce-* headers; undefined when the request has no ce-type (not binary mode). */
export function binaryCloudEventAttributes(request: Pick<WebhookRequest, 'headers'>): CloudEventAttributes | undefined {
  const type = header(request, 'ce-type');
  if (type === undefined) return undefined;
  return {
    type,
    id: header(request, 'ce-id') || undefined,
    time: header(request, 'ce-time') || undefined,
    source: header(request, 'ce-source') || undefined,
  };
}
