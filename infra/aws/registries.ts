// What the stack needs to know about the configured registries: which Secrets Manager
// ARNs each function may read, which ECR registries it talks to and in which role.
// Pure, so the IAM the stack grants can be reasoned about (and tested) from config alone.
import { parseEcrUrl } from '../../functions/lib/ecr-routing.js';
import type { FerryConfig, RegistryConfig } from '../../shared/config/schema.js';

export interface EcrRegistryRef {
  name: string;
  account: string;
  region: string;
}

/** The account and region of an ECR registry, or undefined for other registries. */
export function ecrRegistry(name: string, registry: RegistryConfig): EcrRegistryRef | undefined {
  const ecr = parseEcrUrl(registry.url);
  return ecr ? { name, ...ecr } : undefined;
}

/** Registries some policy reads from (they send webhooks and are listed by reconcile). */
export function sourceRegistries(config: FerryConfig): string[] {
  return unique(config.policies.map((p) => p.source));
}

/** Registries some policy writes to. */
export function destinationRegistries(config: FerryConfig): string[] {
  return unique(config.policies.flatMap((p) => p.destinations.map((d) => d.registry)));
}

/** Secret ARNs holding registry credentials (worker, reconcile and admin sync read them). */
export function registryAuthSecretArns(config: FerryConfig): string[] {
  return unique(Object.values(config.registries).flatMap((r) => (r.auth && 'secretArn' in r.auth ? [r.auth.secretArn] : [])));
}

/** Secret ARNs holding webhook secrets (only the webhook function reads them). */
export function webhookSecretArns(config: FerryConfig): string[] {
  return unique(Object.values(config.registries).flatMap((r) => (r.webhook.secretArn ? [r.webhook.secretArn] : [])));
}

/**
 * IAM resources for a secret ARN. Secrets Manager appends "-" and six random characters
 * to a secret's name; a config may name the secret with or without that suffix.
 */
export function secretResourceArns(arn: string): string[] {
  return /-[A-Za-z0-9]{6}$/.test(arn) ? [arn, `${arn}-??????`] : [`${arn}-??????`, arn];
}

export function ecrRegistries(config: FerryConfig, names: readonly string[]): EcrRegistryRef[] {
  return names.flatMap((n) => {
    const reg = config.registries[n];
    const ref = reg ? ecrRegistry(n, reg) : undefined;
    return ref ? [ref] : [];
  });
}

/** ECR registries that are policy sources and send `kind: ecr` events (EventBridge rule -> webhook). */
export function ecrEventSources(config: FerryConfig): EcrRegistryRef[] {
  return ecrRegistries(config, sourceRegistries(config)).filter((r) => config.registries[r.name]?.kind === 'ecr');
}

function unique<T>(items: T[]): T[] {
  return [...new Set(items)];
}
