// Authenticated requests to one registry: adds the Authorization header for the scopes a
// call needs and, on a 401, refreshes credentials once and retries when the body allows.
import { Authenticator, type AuthEvent } from './auth.js';
import type { Credentials } from './credentials/types.js';
import { RegistryError } from './errors.js';
import { Transport, responseError, type TransportOptions, type TransportRequest, type TransportResponse } from './transport.js';

export interface SessionRequest extends Omit<TransportRequest, 'url'> {
  url: string | URL;
  /** Token scopes the request needs (e.g. `repository:app:pull`). */
  scopes: string[];
}

export class RegistrySession {
  readonly registry: string;
  readonly transport: Transport;
  readonly auth: Authenticator;

  constructor(options: TransportOptions & { credentials?: Credentials; onAuthEvent?: (event: AuthEvent) => void }) {
    this.registry = options.registry;
    this.transport = new Transport(options);
    this.auth = new Authenticator({
      registry: options.registry, transport: this.transport,
      ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
      ...(options.insecure !== undefined ? { insecure: options.insecure } : {}),
      ...(options.onAuthEvent ? { onEvent: options.onAuthEvent } : {}),
    });
  }

  resolve(url: string | URL): URL {
    return this.transport.resolve(url);
  }

  /** True when `url` is on the registry's own origin: only there is the Authorization header sent. */
  sameOrigin(url: URL): boolean {
    return url.origin === this.transport.baseUrl.origin;
  }

  async request(req: SessionRequest): Promise<TransportResponse> {
    const url = this.resolve(req.url);
    const send = async (authorization: string | undefined): Promise<TransportResponse> => {
      const headers = { ...req.headers };
      if (authorization && this.sameOrigin(url)) headers.authorization = authorization;
      return this.transport.request({ ...req, url, headers });
    };
    const first = await send(await this.auth.authorization(req.scopes, req.signal));
    if (first.status !== 401) return first;
    const replayable = req.body === undefined || typeof req.body === 'string' || Buffer.isBuffer(req.body);
    if (!replayable) return first;
    await first.body.dump().catch(() => undefined);
    const fresh = await this.auth.refresh(req.scopes, first.header('www-authenticate'), req.signal);
    return send(fresh);
  }

  /** Throws the RegistryError for an unexpected answer (body read for the OCI error code). */
  async fail(res: TransportResponse, context: { method: string; repository?: string; reference?: string }, what?: string): Promise<never> {
    throw await responseError(res, this.registry, context, what);
  }

  error(message: string, context: { repository?: string; reference?: string; status?: number; code?: string; cause?: unknown }): RegistryError {
    return new RegistryError(message, { registry: this.registry, ...context });
  }

  close(): Promise<void> {
    return this.transport.close();
  }
}
