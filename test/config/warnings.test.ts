import { describe, expect, it } from 'vitest';
import { parseConfigText, warnings } from '../../shared/config/load.js';

const config = (webhook: string) => parseConfigText(`
registries:
  src: { url: https://src.example.com${webhook} }
  dr: { url: https://dr.example.com }
policies:
  - { name: p, source: src, destinations: [{ registry: dr }] }
`, 'ferry.yaml', {});

describe('start-up warnings', () => {
  it('warn about a registry that accepts unauthenticated webhooks', () => {
    expect(warnings(config(', webhook: { allowUnauthenticated: true }'))).toEqual([
      'registries.src: webhook accepts unauthenticated posts (allowUnauthenticated: true, no webhook.secret): anyone who can reach /webhooks/src can queue jobs',
    ]);
  });

  it('warn that a policy source without a secret will refuse every webhook', () => {
    expect(warnings(config(''))).toEqual([
      'registries.src: no webhook.secret: every post to /webhooks/src is refused with 401 (set webhook.secret, or allowUnauthenticated: true)',
    ]);
  });

  it('say nothing for a registry with a secret', () => {
    expect(warnings(config(', webhook: { secret: s }'))).toEqual([]);
    expect(warnings(config(', webhook: { secretArn: "arn:aws:secretsmanager:eu-west-1:1:secret:x" }'))).toEqual([]);
  });

  it('point out that allowUnauthenticated is moot once a secret is set', () => {
    expect(warnings(config(', webhook: { secret: s, allowUnauthenticated: true }'))).toEqual([
      'registries.src: webhook.allowUnauthenticated is ignored because a webhook secret is set',
    ]);
  });

  it('point out a destination that is the source itself', () => {
    const config = parseConfigText(`
registries:
  src: { url: https://src.example.com, webhook: { secret: s } }
policies:
  - { name: loop, source: src, destinations: [{ registry: src }] }
`, 'ferry.yaml', {});
    expect(warnings(config)).toEqual(['policies[0] (loop): destination src with repository "{repository}" is the source itself']);
  });
});
