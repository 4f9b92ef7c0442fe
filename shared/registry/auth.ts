// Registry authentication by challenge: ping `/v2/`, read `WWW-Authenticate`, then answer
// with Basic credentials or a Bearer token fetched from the challenge's realm for the
// scopes a request needs. Tokens are cached per scope set until shortly before they expire.
import { RegistryError } from './errors.js';
import { isBasic, type Credentials, type StaticCredentials } from './credentials/types.js';
import { readAll, readBounded, responseError, type Transport } from './transport.js';

export interface Challenge {
  /** Lower-case scheme: basic, bearer, ... */
  scheme: string;
  params: Record<string, string>;
}

/** Parses `Bearer realm="...",service="...",scope="a b"` (one or more challenges). */
export function parseWWWAuthenticate(header: string | undefined): Challenge[] {
  if (!header) return [];
  const challenges: Challenge[] = [];
  let current: Challenge | undefined;
  let i = 0;
  const skip = (chars: RegExp): void => {
    while (i < header.length && chars.test(header[i]!)) i++;
  };
  while (i < header.length) {
    skip(/[\s,]/);
    const start = i;
    while (i < header.length && /[A-Za-z0-9_.~+/-]/.test(header[i]!)) i++;
    const word = header.slice(start, i);
    if (!word) {
      i++;
      continue;
    }
    skip(/\s/);
    if (header[i] === '=' && current) {
      i++;
      skip(/\s/);
      let value = '';
      if (header[i] === '"') {
        i++;
        while (i < header.length && header[i] !== '"') {
          if (header[i] === '\\') i++;
          value += header[i] ?? '';
          i++;
        }
        i++;
      } else {
        const vstart = i;
        while (i < header.length && !/[\s,]/.test(header[i]!)) i++;
        value = header.slice(vstart, i);
      }
      current.params[word.toLowerCase()] = value;
    } else {
      current = { scheme: word.toLowerCase(), params: {} };
      challenges.push(current);
    }
  }
  return challenges;
}

/** `repository:team/app:pull,push` */
export function repositoryScope(repository: string, actions: Array<'pull' | 'push' | 'delete' | '*'>): string {
  return `repository:${repository}:${actions.join(',')}`;
}

export const CATALOG_SCOPE = 'registry:catalog:*';

interface CachedToken {
  header: string;
  expiresAt: number;
}

/** Something about a registry's auth worth a log line (reported once per kind and realm). */
export type AuthEvent = { kind: 'realm-elsewhere'; realm: string };

export interface AuthenticatorOptions {
  registry: string;
  transport: Transport;
  credentials?: Credentials;
  /** The registry is configured insecure (or is http://): its realm may be plain http too. */
  insecure?: boolean;
  onEvent?: (event: AuthEvent) => void;
  now?: () => number;
}

/** Seconds before expiry at which a cached token is treated as expired. */
const TOKEN_EXPIRY_MARGIN_MS = 15_000;
const DEFAULT_TOKEN_LIFETIME_S = 60;

export class Authenticator {
  private readonly registry: string;
  private readonly transport: Transport;
  private readonly credentialsSource: Credentials | undefined;
  private readonly now: () => number;
  private challenge: Promise<Challenge | undefined> | undefined;
  private credentials: Promise<StaticCredentials | undefined> | undefined;
  private readonly tokens = new Map<string, Promise<CachedToken>>();
  private readonly insecure: boolean;
  private readonly onEvent: ((event: AuthEvent) => void) | undefined;
  private readonly realmsReported = new Set<string>();

  constructor(options: AuthenticatorOptions) {
    this.registry = options.registry;
    this.transport = options.transport;
    this.credentialsSource = options.credentials;
    this.insecure = options.insecure === true || this.transport.baseUrl.protocol === 'http:';
    this.onEvent = options.onEvent;
    this.now = options.now ?? Date.now;
  }

  /** `GET /v2/` once: learns the auth scheme (none, basic, bearer) and checks the registry answers. */
  ping(signal?: AbortSignal): Promise<Challenge | undefined> {
    this.challenge ??= this.doPing(signal).catch((e: unknown) => {
      this.challenge = undefined;
      throw e;
    });
    return this.challenge;
  }

  /** The Authorization header for a request needing `scopes`, or undefined for anonymous access. */
  async authorization(scopes: string[], signal?: AbortSignal): Promise<string | undefined> {
    const creds = await this.getCredentials();
    if (creds && 'token' in creds) return `Bearer ${creds.token}`;
    const challenge = await this.ping(signal);
    if (!challenge) return undefined;
    if (challenge.scheme === 'basic') {
      return isBasic(creds) ? basicHeader(creds.username, creds.password) : undefined;
    }
    if (challenge.scheme === 'bearer') return (await this.token(challenge, scopes, signal)).header;
    return undefined;
  }

  /**
   * After a 401: forget the cached token (and provider credentials), adopt the new challenge,
   * and return a fresh header. The caller retries once with it.
   */
  async refresh(scopes: string[], wwwAuthenticate: string | undefined, signal?: AbortSignal): Promise<string | undefined> {
    const fresh = parseWWWAuthenticate(wwwAuthenticate).find((c) => c.scheme === 'bearer' || c.scheme === 'basic');
    // The scope a 401 names (insufficient_scope) is for this request only; the realm and
    // service stay for every later token request.
    const extraScopes = (fresh?.params.scope ?? '').split(' ').filter(Boolean);
    if (fresh) {
      const { scope: _scope, error: _error, ...params } = fresh.params;
      this.challenge = Promise.resolve({ scheme: fresh.scheme, params });
    }
    this.tokens.delete(tokenKey(scopes));
    if (typeof this.credentialsSource === 'function') this.credentials = undefined;
    const creds = await this.getCredentials();
    const challenge = await this.ping(signal);
    if (challenge?.scheme === 'bearer' && !(creds && 'token' in creds)) {
      return (await this.fetchAndCache(tokenKey(scopes), challenge, [...scopes, ...extraScopes], signal)).header;
    }
    return this.authorization(scopes, signal);
  }

  private async doPing(signal?: AbortSignal): Promise<Challenge | undefined> {
    const res = await this.transport.request({ method: 'GET', url: '/v2/', ...(signal ? { signal } : {}) });
    if (res.status === 200) {
      await res.body.dump();
      return undefined;
    }
    if (res.status === 401) {
      await res.body.dump();
      const challenges = parseWWWAuthenticate(res.header('www-authenticate'));
      const usable = challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
      if (!usable) {
        throw new RegistryError(`registry ${this.registry} answered /v2/ with 401 but no usable WWW-Authenticate challenge`, {
          registry: this.registry, status: 401, code: 'UNAUTHORIZED',
        });
      }
      return usable;
    }
    throw await responseError(res, this.registry, { method: 'GET' }, 'ping /v2/');
  }

  /** The challenge's realm as a URL: http(s) only; another host is allowed, and reported once. */
  private realmUrl(realm: string): URL {
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new RegistryError(`registry ${this.registry} sent a token realm that is not a URL: ${JSON.stringify(realm.slice(0, 200))}`, {
        registry: this.registry, status: 401, code: 'UNAUTHORIZED',
      });
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new RegistryError(`registry ${this.registry} sent a token realm with scheme ${url.protocol}; only https: (or http: for an insecure registry) is used`, {
        registry: this.registry, status: 401, code: 'INSECURE_REALM',
      });
    }
    const shown = `${url.origin}${url.pathname}`;
    // Docker Hub's realm is auth.docker.io, GHCR's ghcr.io itself: another host is normal, but
    // it is where the credentials go, so it is worth one line in the log.
    if (url.hostname !== this.transport.baseUrl.hostname && !this.realmsReported.has(shown)) {
      this.realmsReported.add(shown);
      this.onEvent?.({ kind: 'realm-elsewhere', realm: shown });
    }
    return url;
  }

  private getCredentials(): Promise<StaticCredentials | undefined> {
    const source = this.credentialsSource;
    if (source === undefined) return Promise.resolve(undefined);
    if (typeof source !== 'function') return Promise.resolve(source);
    this.credentials ??= source().catch((e: unknown) => {
      this.credentials = undefined;
      throw new RegistryError(`credentials for registry ${this.registry} could not be obtained: ${(e as Error).message}`, {
        registry: this.registry, code: 'CREDENTIALS', cause: e,
      });
    });
    return this.credentials;
  }

  private token(challenge: Challenge, scopes: string[], signal?: AbortSignal): Promise<CachedToken> {
    const key = tokenKey(scopes);
    const cached = this.tokens.get(key);
    if (cached) {
      return cached.then((t) => (t.expiresAt > this.now() ? t : this.fetchAndCache(key, challenge, scopes, signal)));
    }
    return this.fetchAndCache(key, challenge, scopes, signal);
  }

  private fetchAndCache(key: string, challenge: Challenge, scopes: string[], signal?: AbortSignal): Promise<CachedToken> {
    const pending = this.fetchToken(challenge, scopes, signal);
    this.tokens.set(key, pending);
    pending.catch(() => {
      if (this.tokens.get(key) === pending) this.tokens.delete(key);
    });
    return pending;
  }

  private async fetchToken(challenge: Challenge, scopes: string[], signal?: AbortSignal): Promise<CachedToken> {
    const realm = challenge.params.realm;
    if (!realm) {
      throw new RegistryError(`registry ${this.registry} sent a Bearer challenge without a realm`, { registry: this.registry, status: 401, code: 'UNAUTHORIZED' });
    }
    const url = this.realmUrl(realm);
    if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
    const wanted = new Set(scopes);
    for (const s of wanted) url.searchParams.append('scope', s);
    const creds = await this.getCredentials();
    if (creds && url.protocol !== 'https:' && !this.insecure) {
      // The registry names the realm: an https registry pointing at http:// would have ferry
      // send its password in clear text to whoever is on the path.
      throw new RegistryError(
        `registry ${this.registry} sent a token realm ${url.origin}${url.pathname} over plain http; ferry sends credentials only to https realms (set insecure: true on the registry to allow it)`,
        { registry: this.registry, status: 401, code: 'INSECURE_REALM' },
      );
    }
    const headers: Record<string, string> = { accept: 'application/json' };
    const started = this.now();
    let res;
    if (creds && 'identityToken' in creds) {
      // OAuth2 refresh-token grant (what `docker login` stores as identitytoken).
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.identityToken, client_id: 'ferry' });
      if (challenge.params.service) form.set('service', challenge.params.service);
      if (wanted.size > 0) form.set('scope', [...wanted].join(' '));
      const tokenUrl = new URL(realm);
      res = await this.transport.request({
        method: 'POST', url: tokenUrl, body: form.toString(),
        headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' }, ...(signal ? { signal } : {}),
      });
    } else {
      if (isBasic(creds)) headers.authorization = basicHeader(creds.username, creds.password);
      res = await this.transport.request({ method: 'GET', url, headers, ...(signal ? { signal } : {}) });
    }
    if (res.status !== 200) {
      const text = await readBounded(res.body, 4096).catch(() => '');
      throw new RegistryError(
        `token request to ${url.origin}${url.pathname} for registry ${this.registry} (scope ${[...wanted].join(' ') || 'none'}) -> HTTP ${res.status} ${text.trim().slice(0, 200)}`,
        { registry: this.registry, status: res.status === 401 || res.status === 403 ? res.status : res.status, code: 'UNAUTHORIZED' },
      );
    }
    const body = await readAll(res.body, 1024 * 1024, () => new RegistryError(`token response from ${url.origin} is over 1 MiB`, { registry: this.registry, code: 'UNAUTHORIZED' }));
    let json: { token?: unknown; access_token?: unknown; expires_in?: unknown; issued_at?: unknown };
    try {
      json = JSON.parse(body.toString('utf8')) as typeof json;
    } catch {
      throw new RegistryError(`token response from ${url.origin} for registry ${this.registry} is not JSON`, { registry: this.registry, code: 'UNAUTHORIZED' });
    }
    const token = typeof json.token === 'string' && json.token ? json.token : typeof json.access_token === 'string' ? json.access_token : undefined;
    if (!token) throw new RegistryError(`token response from ${url.origin} for registry ${this.registry} has no token`, { registry: this.registry, code: 'UNAUTHORIZED' });
    const lifetimeS = typeof json.expires_in === 'number' && json.expires_in > 0 ? json.expires_in : DEFAULT_TOKEN_LIFETIME_S;
    return { header: `Bearer ${token}`, expiresAt: started + lifetimeS * 1000 - Math.min(TOKEN_EXPIRY_MARGIN_MS, (lifetimeS * 1000) / 4) };
  }
}

function tokenKey(scopes: string[]): string {
  return [...scopes].sort().join(' ');
}

export function basicHeader(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}
