// cdk-nag's AwsSolutions pack over the stack as `npm run synth` builds it from the example
// config, and over a config with ECR sources and destinations (the IAM that needs
// wildcards). Zero unsuppressed findings; every suppression carries its reason in code.
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { parseConfigText } from '../../shared/config/load.js';
import type { FerryConfig } from '../../shared/config/schema.js';
import { FerryStack } from '../../infra/aws/stack.js';
import { EXAMPLE_CONFIG_PATH, loadSynthConfig } from '../../infra/aws/synth-config.js';

const ECR_CONFIG = `
registries:
  ecr:
    url: https://111122223333.dkr.ecr.eu-west-1.amazonaws.com
    kind: ecr
    auth: { ecr: { region: eu-west-1 } }
    webhook: { allowUnauthenticated: true }
  backup:
    url: https://444455556666.dkr.ecr.us-east-1.amazonaws.com
    auth: { ecr: { region: us-east-1 } }
  vault:
    url: https://vault.example.com
    auth: { secretArn: "arn:aws:secretsmanager:eu-west-1:111122223333:secret:ferry/vault-creds" }
policies:
  - { name: out, source: ecr, destinations: [{ registry: backup }, { registry: vault }], schedule: "*/30 * * * *", deletes: true }
  - { name: in, source: vault, destinations: [{ registry: ecr }] }
`;

interface Finding { rule: string; paths: (string | undefined)[] }

function nag(config: FerryConfig, plaintextSecrets?: 'omit'): { findings: Finding[]; app: App } {
  const app = new App();
  new FerryStack(app, 'ferry', { config, ...(plaintextSecrets ? { plaintextSecrets } : {}) });
  const report = new AwsSolutionsChecks(app).validateScope(app);
  return { app, findings: report.violations.map((v) => ({ rule: v.ruleName, paths: v.violatingResources.map((r) => r.constructPath) })) };
}

/** Every acknowledgement in the tree: rule id -> reasons. */
function acknowledgements(root: IConstruct): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const c of root.node.findAll()) {
    for (const m of c.node.metadata) {
      if (m.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(m.data as Record<string, string>)) out.set(id, [...(out.get(id) ?? []), reason]);
    }
  }
  return out;
}

describe('cdk-nag AwsSolutions', () => {
  it('the example config (what `npm run synth` deploys in a fresh checkout): no findings, nothing suppressed', () => {
    const { findings, app } = nag(loadSynthConfig(EXAMPLE_CONFIG_PATH, {}).config, 'omit');
    expect(findings).toEqual([]);
    expect([...acknowledgements(app).keys()]).toEqual([]);
  });

  it('ECR sources and destinations: no unsuppressed findings; the suppressions are the unscopable ones, each with a reason', () => {
    const { findings, app } = nag(parseConfigText(ECR_CONFIG, 'ecr.yaml', {}));
    expect(findings).toEqual([]);
    const acks = acknowledgements(app);
    expect([...acks.keys()].sort()).toEqual([
      'Annotation::AwsSolutions-IAM5[Resource::*]',
      'Annotation::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecr:eu-west-1:111122223333:repository/*]',
      'Annotation::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecr:us-east-1:444455556666:repository/*]',
    ]);
    for (const [id, reasons] of acks) for (const reason of reasons) expect(reason.length, id).toBeGreaterThan(40);
  });

  it('the pack does report what it should: a stack left to the AWS-managed execution role fails', async () => {
    const { aws_lambda: lambda, Stack } = await import('aws-cdk-lib');
    const app = new App();
    const stack = new Stack(app, 'control');
    new lambda.Function(stack, 'Fn', { runtime: lambda.Runtime.NODEJS_20_X, handler: 'index.handler', code: lambda.Code.fromInline('exports.handler=()=>{}') });
    const rules = new AwsSolutionsChecks(app).validateScope(app).violations.map((v) => v.ruleName);
    expect(rules).toEqual(expect.arrayContaining([expect.stringMatching(/^AwsSolutions-IAM4\[/), 'AwsSolutions-L1']));
  });
});
