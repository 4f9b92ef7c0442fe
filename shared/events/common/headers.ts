// Header lookup. WebhookRequest promises lower-cased names; hosts built by hand (tests,
// Lambda shims) sometimes do not, so look case-insensitively rather than miss a header.
import type { WebhookRequest } from '../types.js';

export function header(request: Pick<WebhookRequest, 'headers'>, name: string): string | undefined {
  const lower = name.toLowerCase();
  const direct = request.headers[lower];
  if (direct !== undefined) return direct;
  for (const [key, value] of Object.entries(request.headers)) {
    if (key.toLowerCase() === lower) return value;
  }
  return undefined;
}

/** The media type of Content-Type without parameters, lower-cased. */
export function contentType(request: Pick<WebhookRequest, 'headers'>): string | undefined {
  return header(request, 'content-type')?.split(';')[0]?.trim().toLowerCase();
}
