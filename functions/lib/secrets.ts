// Secrets by reference: the deployed config names Secrets Manager ARNs; the values are
// fetched once per container (cold start) and only held in memory. Resolution produces an
// ordinary in-memory config (webhook.secret, auth {username,password} | {token}), so the
// core never learns where a secret came from.
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { FerryConfig, RegistryAuthConfig } from '../../shared/config/schema.js';

/** Fetches a secret's string by ARN. */
export type SecretSource = (arn: string) => Promise<string>;

export class SecretResolutionError extends Error {
  override readonly name = 'SecretResolutionError';
}

/** The Secrets Manager client is loaded on first use: functions whose config names no ARN never load it. */
export function secretsManagerSource(client?: SecretsManagerClient): SecretSource {
  let sdk: Promise<typeof import('@aws-sdk/client-secrets-manager')> | undefined;
  let shared = client;
  return async (arn) => {
    const { GetSecretValueCommand, SecretsManagerClient: Client } = await (sdk ??= import('@aws-sdk/client-secrets-manager'));
    shared ??= new Client({});
    const res = await shared.send(new GetSecretValueCommand({ SecretId: arn }));
    if (res.SecretString === undefined) throw new SecretResolutionError(`secret ${arn} has no string value (binary secrets are not supported)`);
    return res.SecretString;
  };
}

/** Each distinct ARN is fetched once, even when several registries share it. */
export function cachedSource(source: SecretSource): SecretSource {
  const cache = new Map<string, Promise<string>>();
  return (arn) => {
    let value = cache.get(arn);
    if (!value) {
      value = source(arn);
      // A failed fetch must not poison the cache: the next cold start path retries.
      value.catch(() => cache.delete(arn));
      cache.set(arn, value);
    }
    return value;
  };
}

export interface ResolveOptions {
  /** Which kinds of secrets this function needs (the webhook needs no registry credentials). */
  webhookSecrets: boolean;
  registryCredentials: boolean;
}

export async function resolveSecrets(config: FerryConfig, source: SecretSource, options: ResolveOptions): Promise<FerryConfig> {
  const registries: FerryConfig['registries'] = {};
  await Promise.all(Object.entries(config.registries).map(async ([name, reg]) => {
    let next = reg;
    if (options.webhookSecrets && reg.webhook.secretArn && reg.webhook.secret === undefined) {
      const secret = await fetch(source, reg.webhook.secretArn, `registries.${name}.webhook.secretArn`);
      next = { ...next, webhook: { ...next.webhook, secret: webhookSecretValue(secret) } };
    }
    if (options.registryCredentials && reg.auth && 'secretArn' in reg.auth) {
      const text = await fetch(source, reg.auth.secretArn, `registries.${name}.auth.secretArn`);
      next = { ...next, auth: credentialsFromSecret(text, reg.auth.secretArn, name) };
    }
    registries[name] = next;
  }));
  return { ...config, registries };
}

async function fetch(source: SecretSource, arn: string, where: string): Promise<string> {
  try {
    return await source(arn);
  } catch (e) {
    throw new SecretResolutionError(`${where}: cannot read ${arn}: ${(e as Error).message}`);
  }
}

/** A webhook secret is stored either as the plain string or as {"secret": "..."}. */
export function webhookSecretValue(text: string): string {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    try {
      const value: unknown = JSON.parse(trimmed);
      if (typeof value === 'object' && value !== null && typeof (value as { secret?: unknown }).secret === 'string') {
        return (value as { secret: string }).secret;
      }
    } catch {
      // Not JSON after all: the whole string is the secret.
    }
  }
  return text;
}

/** Registry credentials are stored as {"username","password"} or {"token"} (docs/operations.md, "AWS"). */
export function credentialsFromSecret(text: string, arn: string, registry: string): RegistryAuthConfig {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new SecretResolutionError(`registries.${registry}.auth.secretArn: ${arn} is not JSON; store {"username","password"} or {"token"}`);
  }
  const v = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  if (typeof v.username === 'string' && v.username !== '' && typeof v.password === 'string') return { username: v.username, password: v.password };
  if (typeof v.token === 'string' && v.token !== '') return { token: v.token };
  throw new SecretResolutionError(`registries.${registry}.auth.secretArn: ${arn} holds neither {"username","password"} nor {"token"}`);
}
