// Legal but risky settings, logged at start (docs/contract.md: unauthenticated webhooks are warned about).
import type { FerryConfig } from './schema.js';

export function warnings(config: FerryConfig): string[] {
  const out: string[] = [];
  const sources = new Set(config.policies.map((p) => p.source));
  for (const [name, registry] of Object.entries(config.registries)) {
    const hasSecret = registry.webhook.secret !== undefined || registry.webhook.secretArn !== undefined;
    if (!hasSecret && registry.webhook.allowUnauthenticated) {
      out.push(`registries.${name}: webhook accepts unauthenticated posts (allowUnauthenticated: true, no webhook.secret): anyone who can reach /webhooks/${name} can queue jobs`);
    } else if (!hasSecret && sources.has(name)) {
      out.push(`registries.${name}: no webhook.secret: every post to /webhooks/${name} is refused with 401 (set webhook.secret, or allowUnauthenticated: true)`);
    }
    if (hasSecret && registry.webhook.allowUnauthenticated) {
      out.push(`registries.${name}: webhook.allowUnauthenticated is ignored because a webhook secret is set`);
    }
  }
  config.policies.forEach((p, i) => {
    if (p.destinations.some((d) => d.registry === p.source)) {
      const same = p.destinations.filter((d) => d.registry === p.source && d.repository === '{repository}');
      if (same.length > 0) out.push(`policies[${i}] (${p.name}): destination ${p.source} with repository "{repository}" is the source itself`);
    }
  });
  return out;
}
