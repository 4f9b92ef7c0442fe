// Which configured ECR registry an EventBridge event belongs to: the registry whose URL
// names the event's account and region. Only `kind: ecr` registries take such events.
import type { FerryConfig } from '../../shared/config/schema.js';
import type { EventBridgeEvent } from 'aws-lambda';

const ECR_HOST = /^(\d{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/;

/** Account and region of an ECR registry URL (https://<account>.dkr.ecr.<region>.amazonaws.com). */
export function parseEcrUrl(url: string): { account: string; region: string } | undefined {
  const m = ECR_HOST.exec(new URL(url).hostname);
  return m ? { account: m[1]!, region: m[2]! } : undefined;
}

export function ecrRegistryFor(config: FerryConfig, event: Pick<EventBridgeEvent<string, unknown>, 'account' | 'region'>): string | undefined {
  const candidates = Object.entries(config.registries).filter(([, reg]) => reg.kind === 'ecr');
  for (const [name, reg] of candidates) {
    const ecr = parseEcrUrl(reg.url);
    if (ecr && ecr.account === event.account && ecr.region === event.region) return name;
  }
  // One ECR registry behind a custom domain (no account in its URL): it is the only candidate.
  const withoutAccount = candidates.filter(([, reg]) => parseEcrUrl(reg.url) === undefined);
  return candidates.length === 1 && withoutAccount.length === 1 ? withoutAccount[0]![0] : undefined;
}
