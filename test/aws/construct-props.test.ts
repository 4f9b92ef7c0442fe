// FerryReplication's props for a platform team's account, read from the synthesised
// template (CDK assertions), built through the package entry point `ferry/aws` as a CDK
// app would: VPC placement, proxy environment, one KMS key for queues, table and logs,
// log retention, name prefix, webhook reserved concurrency, Decrypt on secrets' keys.
import { App, type CfnElement, Stack, aws_ec2 as ec2, aws_kms as kms, aws_logs as logs } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ConfigError, DEFAULT_WEBHOOK_CONCURRENCY, FerryReplication, FerryStackConfigError, ferryConfigFromFile, ferryConfigFromObject } from 'ferry/aws';

const SECRET = 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:ferry/dst-creds';
const YAML = `
registries:
  src: { url: "https://src.example.com", webhook: { secretArn: "arn:aws:secretsmanager:eu-west-1:111122223333:secret:ferry/hook" } }
  dst: { url: "https://dst.example.com", auth: { secretArn: "${SECRET}" } }
policies:
  - { name: p, source: src, destinations: [{ registry: dst }] }
worker: { concurrency: 3 }
`;

let dir: string;
let template: Template;
let app: App;
let stack: Stack;
let ferry: FerryReplication;
let vpc: ec2.IVpc;
let sg: ec2.SecurityGroup;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ferry-props-'));
  writeFileSync(join(dir, 'ferry.yaml'), YAML);
  app = new App({ outdir: join(dir, 'out') });
  stack = new Stack(app, 'platform', { env: { account: '111122223333', region: 'eu-west-1' } });
  vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 1 }) as ec2.IVpc;
  sg = new ec2.SecurityGroup(stack, 'FerrySg', { vpc, description: 'ferry functions' });
  const key = new kms.Key(stack, 'DataKey', { enableKeyRotation: true });
  const secretsKey = kms.Key.fromKeyArn(stack, 'SecretsKey', 'arn:aws:kms:eu-west-1:111122223333:key/11111111-2222-3333-4444-555555555555');
  ferry = new FerryReplication(stack, 'Ferry', {
    config: ferryConfigFromFile(join(dir, 'ferry.yaml'), {}),
    vpc,
    vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
    securityGroups: [sg],
    proxy: { httpsProxy: 'http://proxy.corp:3128', noProxy: '169.254.169.254' },
    encryptionKey: key,
    logRetention: logs.RetentionDays.THREE_MONTHS,
    namePrefix: 'acme-ferry',
    webhookReservedConcurrency: 25,
    secretsKmsKeys: [secretsKey],
  });
  template = Template.fromStack(stack);
}, 240_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const functions = (): Array<Record<string, unknown>> =>
  Object.values(template.findResources('AWS::Lambda::Function')).map((f) => (f as { Properties: Record<string, unknown> }).Properties);

describe('FerryReplication props', () => {
  it('vpc, vpcSubnets, securityGroups: every function in the private subnets with the given security group', () => {
    const privateSubnets = vpc.selectSubnets({ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }).subnetIds.map((id) => stack.resolve(id));
    expect(functions()).toHaveLength(4);
    for (const fn of functions()) {
      const config = fn.VpcConfig as { SubnetIds: unknown[]; SecurityGroupIds: unknown[] };
      expect(config.SubnetIds).toEqual(privateSubnets);
      expect(config.SecurityGroupIds).toEqual([stack.resolve(sg.securityGroupId)]);
    }
  });

  it('the worker runs in the VPC: its role may manage network interfaces, by a customer-managed policy', () => {
    const worker = stack.getLogicalId(ferry.workerFunction.node.defaultChild as CfnElement);
    expect(template.toJSON().Resources[worker].Properties.VpcConfig).toBeDefined();
    template.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Action: Match.arrayWith(['ec2:CreateNetworkInterface', 'ec2:DeleteNetworkInterface']) })]) },
    });
    expect(JSON.stringify(template.findResources('AWS::IAM::Role'))).not.toContain('AWSLambdaVPCAccessExecutionRole');
  });

  it('proxy: HTTPS_PROXY and NO_PROXY reach every function\'s environment', () => {
    for (const fn of functions()) {
      const env = (fn.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(env.HTTPS_PROXY).toBe('http://proxy.corp:3128');
      expect(env.NO_PROXY).toBe('169.254.169.254');
      expect(env.HTTP_PROXY).toBeUndefined();
    }
  });

  it('encryptionKey: both queues, the table and every log group use the key; the functions may use it', () => {
    const keyRef = { 'Fn::GetAtt': [Match.stringLikeRegexp('^DataKey'), 'Arn'] };
    template.resourcePropertiesCountIs('AWS::SQS::Queue', { KmsMasterKeyId: keyRef }, 2);
    template.hasResourceProperties('AWS::DynamoDB::Table', { SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: keyRef } });
    template.resourcePropertiesCountIs('AWS::Logs::LogGroup', { KmsKeyId: keyRef }, 4);
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: { Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: 'logs.eu-west-1.amazonaws.com' } })]) },
    });
    for (const name of ['Webhook', 'Worker', 'Admin', 'Reconcile']) {
      const policy = Object.entries(template.findResources('AWS::IAM::Policy')).find(([id]) => id.startsWith(`Ferry${name}FunctionServiceRoleDefaultPolicy`))!;
      expect(JSON.stringify(policy[1]), name).toMatch(/"kms:Decrypt".*DataKey|DataKey.*"kms:Decrypt"/);
    }
  });

  it('logRetention and namePrefix: 90-day log groups named after prefixed functions, prefixed queues and table', () => {
    template.resourcePropertiesCountIs('AWS::Logs::LogGroup', { RetentionInDays: 90 }, 4);
    for (const name of ['webhook', 'worker', 'admin', 'reconcile']) {
      template.hasResourceProperties('AWS::Lambda::Function', { FunctionName: `acme-ferry-${name}` });
      template.hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: `/aws/lambda/acme-ferry-${name}` });
    }
    template.hasResourceProperties('AWS::SQS::Queue', { QueueName: 'acme-ferry-jobs' });
    template.hasResourceProperties('AWS::SQS::Queue', { QueueName: 'acme-ferry-jobs-dlq' });
    template.hasResourceProperties('AWS::DynamoDB::Table', { TableName: 'acme-ferry-jobs' });
  });

  it('webhookReservedConcurrency: the public webhook cannot scale past it (the worker keeps worker.concurrency)', () => {
    template.hasResourceProperties('AWS::Lambda::Function', { FunctionName: 'acme-ferry-webhook', ReservedConcurrentExecutions: 25 });
    template.hasResourceProperties('AWS::Lambda::Function', { FunctionName: 'acme-ferry-worker', ReservedConcurrentExecutions: 3 });
    expect(DEFAULT_WEBHOOK_CONCURRENCY).toBe(10);
  });

  it('secretsKmsKeys: each function that reads secrets may kms:Decrypt with the secrets\' key', () => {
    const keyArn = 'arn:aws:kms:eu-west-1:111122223333:key/11111111-2222-3333-4444-555555555555';
    for (const name of ['Webhook', 'Worker', 'Admin', 'Reconcile']) {
      const [, policy] = Object.entries(template.findResources('AWS::IAM::Policy')).find(([id]) => id.startsWith(`Ferry${name}FunctionServiceRoleDefaultPolicy`))!;
      const statements = (policy as { Properties: { PolicyDocument: { Statement: Array<{ Action: unknown; Resource: unknown }> } } }).Properties.PolicyDocument.Statement;
      expect(statements.some((s) => JSON.stringify(s.Action).includes('kms:Decrypt') && s.Resource === keyArn), name).toBe(true);
    }
  });

  it('cdk-nag AwsSolutions: the VPC deployment has no unsuppressed findings in ferry\'s constructs', () => {
    const findings = new AwsSolutionsChecks(app).validateScope(ferry).violations;
    expect(findings.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(' ')}`)).toEqual([]);
  });
});

describe('ferry/aws entry point: configs in code', () => {
  it('an object is validated by the same schema as ferry.yaml, with every problem named', () => {
    const ok = ferryConfigFromObject({ registries: { a: { url: 'https://a.example.com' } }, policies: [] }, 'app.ts', {});
    expect(ok.registries.a!.limits).toBeDefined();
    expect(() => ferryConfigFromObject({ registries: { a: { url: 'ftp://nope' } }, policies: [{ name: 'p', source: 'b', destinations: [{ registry: 'a' }], schedule: 'never' }] } as never, 'app.ts', {}))
      .toThrow(ConfigError);
    try {
      ferryConfigFromObject({ registries: { a: { url: 'ftp://nope' } }, policies: [{ name: 'p', source: 'b', destinations: [{ registry: 'a' }], schedule: 'never' }] } as never, 'app.ts', {});
    } catch (e) {
      const text = (e as Error).message;
      expect(text).toMatch(/app\.ts: registries\.a\.url/);
      expect(text).toMatch(/policies\[0\]\.schedule: invalid cron expression "never"/);
    }
  });

  it('props that make no sense fail with the reason', () => {
    const config = ferryConfigFromFile(join(dir, 'ferry.yaml'), {});
    const s = () => new Stack(new App(), 's');
    expect(() => new FerryReplication(s(), 'F', { config, namePrefix: 'has space' })).toThrow(FerryStackConfigError);
    expect(() => new FerryReplication(s(), 'F', { config, webhookReservedConcurrency: 0 })).toThrow(/webhookReservedConcurrency is 0/);
    const other = new Stack(new App(), 'o');
    const otherVpc = new ec2.Vpc(other, 'V') as ec2.IVpc;
    expect(() => new FerryReplication(s(), 'F', { config, securityGroups: [new ec2.SecurityGroup(other, 'G', { vpc: otherVpc })] })).toThrow(/need vpc/);
  });
});

describe('ECR: repository creation and cross-account sources', () => {
  const ECR_YAML = `
registries:
  src: { url: "https://999988887777.dkr.ecr.eu-west-1.amazonaws.com", kind: ecr, auth: { ecr: { region: eu-west-1 } }, webhook: { allowUnauthenticated: true } }
  dst:
    url: https://111122223333.dkr.ecr.eu-west-1.amazonaws.com
    auth: { ecr: { region: eu-west-1 } }
    ecr: { createRepositories: true, scanOnPush: true, repositoryPolicy: '{"Version":"2012-10-17","Statement":[]}' }
policies:
  - { name: p, source: src, destinations: [{ registry: dst, repository: "mirror/{repository}" }] }
`;

  it('the worker may create, describe and set the policy of repositories under the destination prefix only; nag clean', () => {
    const a = new App();
    const s = new Stack(a, 'ecr', { env: { account: '111122223333', region: 'eu-west-1' } });
    const f = new FerryReplication(s, 'Ferry', { config: ferryConfigFromObject(parse(ECR_YAML), 'ecr.yaml', {}) });
    const t = Template.fromStack(s);
    const statements = Object.values(t.findResources('AWS::IAM::Policy'))
      .flatMap((p) => (p as { Properties: { PolicyDocument: { Statement: Array<{ Action: unknown; Resource: unknown }> } } }).Properties.PolicyDocument.Statement)
      .filter((st) => JSON.stringify(st.Action).includes('ecr:CreateRepository'));
    expect(statements).toHaveLength(1);
    expect(statements[0]!.Action).toEqual(['ecr:DescribeRepositories', 'ecr:CreateRepository', 'ecr:SetRepositoryPolicy']);
    expect(JSON.stringify(s.resolve(statements[0]!.Resource))).toMatch(/:ecr:eu-west-1:111122223333:repository\/mirror\/\*"\]\]\}$|:ecr:eu-west-1:111122223333:repository\/mirror\/\*"$/);
    const createGrants = Object.entries(t.findResources('AWS::IAM::Policy')).filter(([, p]) => JSON.stringify(p).includes('ecr:CreateRepository')).map(([id]) => id);
    expect(createGrants).toEqual([expect.stringMatching(/^FerryWorkerFunctionServiceRoleDefaultPolicy/)]);
    expect(new AwsSolutionsChecks(a).validateScope(f).violations.map((v) => v.ruleName)).toEqual([]);
    // Cross-account source: the stack says its events need forwarding.
    expect(f.warnings.join('\n')).toMatch(/registries\.src: ECR registry in account 999988887777, stack in 111122223333: .*forwards them/);
  });

  it('a same-account ECR source gets no warning', () => {
    const s = new Stack(new App(), 'same', { env: { account: '999988887777', region: 'eu-west-1' } });
    const f = new FerryReplication(s, 'Ferry', { config: ferryConfigFromObject(parse(ECR_YAML), 'ecr.yaml', {}) });
    expect(f.warnings.filter((w) => w.includes('forwards'))).toEqual([]);
  });
});
