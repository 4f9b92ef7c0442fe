// A small Docker/Distribution token server for tests: `GET /token?service=&scope=` with
// Basic auth issues a JWT whose `access` claim grants the requested actions. Distribution
// 2.8 verifies the signature with the key whose libtrust key id matches the `kid` header,
// looked up in the certificate bundle named by `auth.token.rootcertbundle`.

import { createHash, createPrivateKey, createPublicKey, randomUUID, type KeyObject } from 'node:crypto';
import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SignJWT } from 'jose';
import type { TokenAuth } from '../../infra/local/demo/distribution.js';

const execFileAsync = promisify(execFile);

export interface AccessEntry {
  type: string;
  name: string;
  actions: string[];
}

export interface TokenRequestRecord {
  user?: string;
  service?: string;
  scopes: string[];
  status: number;
}

export interface TokenServerOptions {
  /** username -> password */
  users: Record<string, string>;
  service?: string;
  issuer?: string;
  /** Token lifetime in seconds. */
  expiresIn?: number;
  /** Which of the requested actions a user gets; default: all requested. */
  grant?: (user: string, requested: AccessEntry) => string[];
  /** Anonymous requests get a token with no access instead of a 401 (like Docker Hub). */
  allowAnonymous?: boolean;
}

export interface TokenServer {
  url: string;
  /** The `auth.token` block a registry needs to trust this server. */
  auth: TokenAuth;
  /** Every token request, in order. */
  requests: TokenRequestRecord[];
  /** Issues a token directly (for tests of expiry and scope handling). */
  issue(user: string, access: AccessEntry[], expiresIn?: number): Promise<string>;
  stop(): Promise<void>;
}

/** libtrust key id: SHA-256 of the DER SubjectPublicKeyInfo, first 240 bits, base32, grouped by 4 with ':'. */
export function libtrustKeyId(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  const hash = createHash('sha256').update(der).digest().subarray(0, 30);
  const b32 = base32(hash);
  return b32.match(/.{1,4}/g)!.join(':');
}

function base32(bytes: Buffer): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}

/** Parses `repository:team/app:pull,push` (the name may not contain ':', actions are last). */
export function parseScope(scope: string): AccessEntry | undefined {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last === first) return undefined;
  return {
    type: scope.slice(0, first),
    name: scope.slice(first + 1, last),
    actions: scope.slice(last + 1).split(',').filter(Boolean),
  };
}

function basicUser(req: IncomingMessage, users: Record<string, string>): { user?: string; bad: boolean } {
  const header = req.headers.authorization;
  if (!header) return { bad: false };
  const match = /^Basic\s+(.+)$/i.exec(header);
  if (!match?.[1]) return { bad: true };
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const user = decoded.slice(0, colon);
  const password = decoded.slice(colon + 1);
  if (colon < 0 || users[user] === undefined || users[user] !== password) return { bad: true };
  return { user, bad: false };
}

export async function startTokenServer(opts: TokenServerOptions): Promise<TokenServer> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-token-'));
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  await execFileAsync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=ferry-testbed-token',
  ]);
  const privateKey = createPrivateKey(await readFile(keyFile));
  const kid = libtrustKeyId(createPublicKey(privateKey));
  const service = opts.service ?? 'ferry-testbed';
  const issuer = opts.issuer ?? 'ferry-testbed-issuer';
  const requests: TokenRequestRecord[] = [];

  const issue = async (user: string, access: AccessEntry[], expiresIn = opts.expiresIn ?? 300): Promise<string> => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ access })
      .setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid })
      .setIssuer(issuer)
      .setSubject(user)
      .setAudience(service)
      .setIssuedAt(now)
      .setNotBefore(now - 5)
      .setExpirationTime(now + expiresIn)
      .setJti(randomUUID())
      .sign(privateKey);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://token');
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    const scopes = url.searchParams.getAll('scope').flatMap((s) => s.split(' ')).filter(Boolean);
    const record: TokenRequestRecord = { scopes, status: 0 };
    const requestedService = url.searchParams.get('service');
    if (requestedService !== null) record.service = requestedService;
    requests.push(record);
    if (url.pathname !== '/token') {
      record.status = 404;
      reply(404, { error: 'not found' });
      return;
    }
    const { user, bad } = basicUser(req, opts.users);
    if (bad || (!user && !opts.allowAnonymous)) {
      record.status = 401;
      reply(401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }, { 'www-authenticate': 'Basic realm="ferry-testbed-token"' });
      return;
    }
    if (user) record.user = user;
    const access: AccessEntry[] = [];
    for (const scope of scopes) {
      const entry = parseScope(scope);
      if (!entry) continue;
      const actions = user ? (opts.grant ? opts.grant(user, entry) : entry.actions) : [];
      if (actions.length > 0) access.push({ ...entry, actions });
    }
    const expiresIn = opts.expiresIn ?? 300;
    const token = await issue(user ?? '', access, expiresIn);
    record.status = 200;
    reply(200, { token, access_token: token, expires_in: expiresIn, issued_at: new Date().toISOString() });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: String(error) }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('token server has no port');
  const url = `http://127.0.0.1:${address.port}`;

  return {
    url,
    auth: { realm: `${url}/token`, service, issuer, rootCertBundle: certFile },
    requests,
    issue,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
