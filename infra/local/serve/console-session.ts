// Console login: the admin token is exchanged once (POST /api/session, token in the JSON
// body, never in a URL) for a random session id in an HttpOnly, SameSite=Strict cookie.
// Requests authenticated by that cookie that change state must carry an Origin header
// naming this server, so another site cannot make a logged-in browser act (CSRF).
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { checkAdminToken } from './admin-auth.js';

export const SESSION_COOKIE = 'ferry_session';
const SESSION_TTL_MS = 8 * 3600 * 1000;
const MAX_SESSIONS = 1000;

export type SessionCheck = { ok: true } | { ok: false; status: 401 | 403; error: string; detail: string };

export class ConsoleSessions {
  private readonly sessions = new Map<string, number>();

  constructor(private readonly token: string | undefined, private readonly now: () => number = Date.now) {}

  /** A new session for a correct token; the Set-Cookie value to send. */
  login(token: unknown, secure: boolean): { ok: true; cookie: string } | { ok: false; status: 401 | 403; error: string; detail: string } {
    const auth = checkAdminToken(this.token, typeof token === 'string' ? `Bearer ${token}` : undefined);
    if (!auth.ok) return auth;
    this.prune();
    const id = randomBytes(32).toString('base64url');
    this.sessions.set(id, this.now() + SESSION_TTL_MS);
    return { ok: true, cookie: cookie(id, SESSION_TTL_MS / 1000, secure) };
  }

  logout(req: IncomingMessage, secure: boolean): string {
    const id = sessionId(req);
    if (id) this.sessions.delete(id);
    return cookie('', 0, secure);
  }

  /** Whether the request carries a live session cookie. */
  has(req: IncomingMessage): boolean {
    const id = sessionId(req);
    const until = id ? this.sessions.get(id) : undefined;
    if (until === undefined) return false;
    if (until < this.now()) {
      this.sessions.delete(id!);
      return false;
    }
    return true;
  }

  /** Cookie-authenticated requests that change state must come from this origin. */
  checkOrigin(req: IncomingMessage): SessionCheck {
    if (req.method === 'GET' || req.method === 'HEAD') return { ok: true };
    const origin = req.headers.origin;
    const host = req.headers.host;
    if (!origin || !host) return { ok: false, status: 403, error: 'forbidden', detail: 'state-changing console requests need an Origin header' };
    let originHost: string;
    try {
      originHost = new URL(origin).host;
    } catch {
      return { ok: false, status: 403, error: 'forbidden', detail: 'malformed Origin header' };
    }
    return originHost === host ? { ok: true } : { ok: false, status: 403, error: 'forbidden', detail: `cross-origin request from ${origin}` };
  }

  private prune(): void {
    const now = this.now();
    for (const [id, until] of this.sessions) if (until < now) this.sessions.delete(id);
    while (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
  }
}

function cookie(value: string, maxAgeSeconds: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${value}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAgeSeconds}${secure ? '; Secure' : ''}`;
}

function sessionId(req: IncomingMessage): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === SESSION_COOKIE) return rest.join('=') || undefined;
  }
  return undefined;
}
