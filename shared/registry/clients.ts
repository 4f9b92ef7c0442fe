// Builds one RegistryClient per configured registry, turning each `auth` kind into
// credentials. Secrets Manager references are resolved by the AWS host and passed in.
import type { FerryConfig, RegistryAuthConfig } from '../config/schema.js';
import type { AuthEvent } from './auth.js';
import type { BandwidthLimiter } from './bandwidth.js';
import { RegistryClient, type RegistryClientOptions } from './client.js';
import type { RateEvent, RateStore } from './rate-control.js';
import { dockerConfigCredentials } from './credentials/docker-config.js';
import { ecrCredentials } from './credentials/ecr.js';
import type { Credentials } from './credentials/types.js';
import { loadCaSetting } from './tls-trust.js';

export interface CreateClientsOptions {
  /** Shared bandwidth limiter (worker.bandwidth) for all clients. */
  throttle?: BandwidthLimiter;
  /** Credentials by registry name that replace the config's `auth` (e.g. resolved `secretArn`). */
  credentials?: Record<string, Credentials | undefined> | Map<string, Credentials | undefined>;
  /** Shares each registry's back-off state and request schedule across processes. */
  rateStore?: RateStore;
  /** Back-offs and quota pauses, by registry name (logs, metrics). */
  onRateEvent?: (registry: string, event: RateEvent) => void;
  /** Auth facts worth a log line, by registry name (a token realm on another host). */
  onAuthEvent?: (registry: string, event: AuthEvent) => void;
  /** Extra client options (timeouts, upload chunking) applied to every client. */
  clientDefaults?: Partial<Pick<RegistryClientOptions, 'timeouts' | 'retry' | 'upload'>>;
  /** Sees every registry request (registry health). */
  observer?: RegistryClientOptions['observer'];
}

export class UnresolvedCredentialsError extends Error {
  override readonly name = 'UnresolvedCredentialsError';
}

export function credentialsFromAuth(registry: string, url: string, auth: RegistryAuthConfig | undefined): Credentials | undefined {
  if (!auth) return undefined;
  if ('username' in auth) return { username: auth.username, password: auth.password };
  if ('token' in auth) return { token: auth.token };
  if ('dockerConfig' in auth) return dockerConfigCredentials(url);
  if ('ecr' in auth) return ecrCredentials({ region: auth.ecr.region });
  // secretArn: only the AWS host can read Secrets Manager; it passes the result in.
  throw new UnresolvedCredentialsError(`registry ${registry}: auth.secretArn must be resolved by the host before creating clients (pass options.credentials)`);
}

export function createRegistryClients(config: FerryConfig, options: CreateClientsOptions = {}): Map<string, RegistryClient> {
  const overrides = options.credentials instanceof Map ? options.credentials : new Map(Object.entries(options.credentials ?? {}));
  const clients = new Map<string, RegistryClient>();
  for (const [name, registry] of Object.entries(config.registries)) {
    const credentials = overrides.has(name) ? overrides.get(name) : credentialsFromAuth(name, registry.url, registry.auth);
    clients.set(name, new RegistryClient({
      name,
      url: registry.url,
      insecure: registry.insecure,
      ...(registry.tls ? { tls: { verify: registry.tls.verify, ...(registry.tls.ca ? { ca: loadCaSetting(registry.tls.ca, `registries.${name}.tls.ca`) } : {}) } } : {}),
      ...(registry.proxy !== undefined ? { proxy: registry.proxy } : {}),
      allowPrivateRedirects: registry.allowPrivateRedirects,
      ...(credentials !== undefined ? { credentials } : {}),
      limits: {
        ...(registry.limits.requestsPerSecond !== undefined ? { requestsPerSecond: registry.limits.requestsPerSecond } : {}),
        concurrency: registry.limits.concurrency,
        ...(registry.limits.minRemaining !== undefined ? { minRemaining: registry.limits.minRemaining } : {}),
      },
      ...(options.rateStore ? { rateStore: options.rateStore } : {}),
      ...(options.onRateEvent ? { onRateEvent: (event: RateEvent) => options.onRateEvent?.(name, event) } : {}),
      ...(options.onAuthEvent ? { onAuthEvent: (event: AuthEvent) => options.onAuthEvent?.(name, event) } : {}),
      ...(options.throttle ? { throttle: options.throttle } : {}),
      rateFloor: { bytesPerSecond: config.worker.minTransferRate, windowMs: config.worker.minTransferRateWindow },
      ...(options.observer ? { observer: options.observer } : {}),
      ...options.clientDefaults,
    }));
  }
  return clients;
}
