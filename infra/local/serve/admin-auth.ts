// Bearer-token check for the admin API. Hashing both sides first gives equal-length
// buffers, so timingSafeEqual never leaks the token's length either.
import { createHash, timingSafeEqual } from 'node:crypto';

export type AdminAuthResult =
  | { ok: true }
  | { ok: false; status: 401 | 403; error: string; detail: string };

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

export function checkAdminToken(configured: string | undefined, authorization: string | undefined): AdminAuthResult {
  if (!configured) {
    return { ok: false, status: 403, error: 'admin API disabled', detail: 'admin.token not configured' };
  }
  const m = /^Bearer\s+(.+)$/i.exec(authorization?.trim() ?? '');
  if (!m) return { ok: false, status: 401, error: 'unauthorized', detail: 'missing bearer token (Authorization: Bearer <admin.token>)' };
  if (!timingSafeEqual(digest(m[1]!.trim()), digest(configured))) {
    return { ok: false, status: 401, error: 'unauthorized', detail: 'invalid admin token' };
  }
  return { ok: true };
}
