// What the stack derives from the registries in ferry.yaml, before any CDK is involved.
import { describe, expect, it } from 'vitest';
import { logicalName } from '../../infra/aws/construct.js';
import {
  destinationRegistries, ecrEventSources, ecrRegistries, registryAuthSecretArns, secretResourceArns,
  sourceRegistries, webhookSecretArns,
} from '../../infra/aws/registries.js';
import { parseConfigText } from '../../shared/config/load.js';

const config = parseConfigText(`
registries:
  hub: { url: "https://hub.example.com", auth: { secretArn: "arn:aws:secretsmanager:us-east-1:1:secret:shared" }, webhook: { secretArn: "arn:aws:secretsmanager:us-east-1:1:secret:hook" } }
  ecr-src: { url: "https://111122223333.dkr.ecr.eu-west-1.amazonaws.com", kind: ecr }
  ecr-pull: { url: "https://444455556666.dkr.ecr.us-east-1.amazonaws.com" }
  dr: { url: "https://dr.example.com", auth: { secretArn: "arn:aws:secretsmanager:us-east-1:1:secret:shared" } }
policies:
  - { name: a, source: hub, destinations: [{ registry: dr }, { registry: ecr-pull }] }
  - { name: b, source: ecr-src, destinations: [{ registry: dr }] }
  - { name: c, source: ecr-pull, destinations: [{ registry: dr }] }
`, 'registries.yaml', {});

describe('stack inputs derived from the registries', () => {
  it('sources and destinations of policies, each once', () => {
    expect(sourceRegistries(config)).toEqual(['hub', 'ecr-src', 'ecr-pull']);
    expect(destinationRegistries(config)).toEqual(['dr', 'ecr-pull']);
  });

  it('secret ARNs by purpose, deduplicated', () => {
    expect(registryAuthSecretArns(config)).toEqual(['arn:aws:secretsmanager:us-east-1:1:secret:shared']);
    expect(webhookSecretArns(config)).toEqual(['arn:aws:secretsmanager:us-east-1:1:secret:hook']);
  });

  it('IAM resources match a secret named with or without its random suffix', () => {
    expect(secretResourceArns('arn:aws:secretsmanager:us-east-1:1:secret:name')).toContain('arn:aws:secretsmanager:us-east-1:1:secret:name-??????');
    expect(secretResourceArns('arn:aws:secretsmanager:us-east-1:1:secret:name-AbC123')).toContain('arn:aws:secretsmanager:us-east-1:1:secret:name-AbC123');
  });

  it('ECR registries by URL; only kind: ecr sources get an EventBridge rule', () => {
    expect(ecrRegistries(config, ['hub', 'ecr-src', 'ecr-pull'])).toEqual([
      { name: 'ecr-src', account: '111122223333', region: 'eu-west-1' },
      { name: 'ecr-pull', account: '444455556666', region: 'us-east-1' },
    ]);
    expect(ecrEventSources(config).map((r) => r.name)).toEqual(['ecr-src']);
  });

  it('CloudFormation ids stay readable and do not collide for names that differ only in punctuation', () => {
    expect(logicalName('src')).toBe('Src');
    expect(logicalName('team-mirror')).not.toBe(logicalName('team_mirror'));
    expect(logicalName('team-mirror')).toMatch(/^TeamMirror[0-9a-f]{6}$/);
  });
});
