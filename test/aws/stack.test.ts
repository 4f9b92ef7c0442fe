// The CDK stack as a specification: every property the AWS deployment promises, read
// from the synthesised CloudFormation template (and the function assets beside it).
import { App, Duration } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BAKED_CONFIG_FILE, readBakedConfig } from '../../functions/lib/baked-config.js';
import { parseConfigText } from '../../shared/config/load.js';
import type { FerryConfig } from '../../shared/config/schema.js';
import { INDEXES } from '../../shared/adapters/aws/table-schema.js';
import { FerryStackConfigError } from '../../infra/aws/construct.js';
import { FerryStack } from '../../infra/aws/stack.js';
import { EXAMPLE_CONFIG_PATH, deployGuardProblem, loadSynthConfig, synthConfigPath } from '../../infra/aws/synth-config.js';

const PASSWORD_MARKER = 'MARKER-registry-password-5f1c0e';
const HOOK_MARKER = 'MARKER-webhook-secret-9a7d22';
const TOKEN_MARKER = 'MARKER-admin-token-31b4aa';
const ECR_ACCOUNT = '111122223333';
const VAULT_SECRET = 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:ferry/vault-creds';
const ECR_HOOK_SECRET = 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:ferry/ecr-hook-AbC123';

const CONFIG = `
registries:
  src:
    url: https://src.example.com
    auth: { username: robot, password: "\${env:SRC_PASSWORD}" }
    webhook: { secret: "\${env:SRC_HOOK_SECRET}" }
  ecr:
    url: https://${ECR_ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com
    kind: ecr
    auth: { ecr: { region: eu-west-1 } }
    webhook: { secretArn: "${ECR_HOOK_SECRET}" }
  vault:
    url: https://vault.example.com
    auth: { secretArn: "${VAULT_SECRET}" }
  dr:
    url: https://dr.example.com
policies:
  - name: team-mirror
    source: src
    destinations: [{ registry: dr }, { registry: vault }]
    schedule: "*/30 * * * *"
  - name: ecr_out
    source: ecr
    destinations: [{ registry: dr }]
    schedule: "0 9 * * 1-5"
  - name: ecr-in
    source: dr
    destinations: [{ registry: ecr }]
worker:
  concurrency: 4
  maxAttempts: 3
admin: { token: "\${env:FERRY_ADMIN_TOKEN}" }
`;

const ENV = { SRC_PASSWORD: PASSWORD_MARKER, SRC_HOOK_SECRET: HOOK_MARKER, FERRY_ADMIN_TOKEN: TOKEN_MARKER };

function configWith(overrides: string): FerryConfig {
  return parseConfigText(CONFIG + overrides, 'test.yaml', ENV);
}

let outdir: string;
let stack: FerryStack;
let template: Template;
let json: string;

beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), 'ferry-cdk-'));
  const app = new App({ outdir });
  stack = new FerryStack(app, 'ferry-test', { config: parseConfigText(CONFIG, 'test.yaml', ENV), plaintextSecrets: 'omit' });
  template = Template.fromStack(stack);
  json = JSON.stringify(template.toJSON());
  app.synth();
}, 240_000);

afterAll(() => {
  if (outdir) rmSync(outdir, { recursive: true, force: true });
});

type Statement = { Action: string | string[]; Resource: unknown; Effect: string };

/** The statements of the inline policy attached to a function's role. */
function statementsOf(functionLogicalIdPrefix: string): Statement[] {
  const policies = template.findResources('AWS::IAM::Policy');
  const entry = Object.entries(policies).find(([id]) => id.startsWith(`Ferry${functionLogicalIdPrefix}FunctionServiceRoleDefaultPolicy`));
  expect(entry, `policy of ${functionLogicalIdPrefix}`).toBeDefined();
  return (entry![1] as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument.Statement;
}

const actions = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const allActions = (statements: Statement[]): string[] => statements.flatMap(actions);
const resourcesOf = (statements: Statement[], action: string): string => JSON.stringify(statements.filter((s) => actions(s).includes(action)).map((s) => s.Resource));

function logicalIdOf(type: string, predicate: (props: Record<string, unknown>) => boolean): string {
  const found = Object.entries(template.findResources(type)).filter(([, r]) => predicate((r as { Properties: Record<string, unknown> }).Properties));
  expect(found).toHaveLength(1);
  return found[0]![0];
}

function walkFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? walkFiles(p) : [p];
  });
}

describe('FerryStack: queues', () => {
  it('jobs queue redrives to a DLQ after maxAttempts receives, visibility six times the worker timeout', () => {
    const dlq = logicalIdOf('AWS::SQS::Queue', (p) => p.RedrivePolicy === undefined);
    template.hasResourceProperties('AWS::SQS::Queue', {
      VisibilityTimeout: 6 * 900,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlq, 'Arn'] }, maxReceiveCount: 3 },
    });
    template.resourceCountIs('AWS::SQS::Queue', 2);
  });
});

describe('FerryStack: functions', () => {
  it('all four functions: the newest Node.js runtime, arm64, ESM bundle handler, source maps enabled, resources by environment', () => {
    template.resourceCountIs('AWS::Lambda::Function', 4);
    for (const fn of Object.values(template.findResources('AWS::Lambda::Function'))) {
      const p = (fn as { Properties: Record<string, unknown> }).Properties;
      expect(p.Runtime).toBe('nodejs24.x');
      expect(p.Architectures).toEqual(['arm64']);
      expect(p.Handler).toBe('index.handler');
      const env = (p.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(env.NODE_OPTIONS).toBe('--enable-source-maps');
      expect(Object.keys(env)).toEqual(expect.arrayContaining(['FERRY_QUEUE_URL', 'FERRY_DLQ_URL', 'FERRY_TABLE']));
    }
  });

  it('worker: 15 minute timeout, reserved concurrency = worker.concurrency', () => {
    template.hasResourceProperties('AWS::Lambda::Function', { Timeout: 900, ReservedConcurrentExecutions: 4 });
    // The webhook's is the construct default (its URL is public); admin and reconcile have none.
    expect(Object.values(template.findResources('AWS::Lambda::Function')).map((f) => (f as { Properties: Record<string, unknown> }).Properties.ReservedConcurrentExecutions).sort()).toEqual([10, 4, undefined, undefined]);
  });

  it('worker: SQS event source with partial batch responses, batch <= 10, maximum concurrency = worker.concurrency', () => {
    const worker = logicalIdOf('AWS::Lambda::Function', (p) => p.ReservedConcurrentExecutions === 4);
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: worker },
      BatchSize: 5,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 4 },
    });
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1);
  });

  it('webhook: public Function URL (ferry checks the webhook secret); admin has no URL', () => {
    template.resourceCountIs('AWS::Lambda::Url', 1);
    // The public invoke permission is limited to calls that come through the URL.
    template.hasResourceProperties('AWS::Lambda::Permission', { Action: 'lambda:InvokeFunction', Principal: '*', InvokedViaFunctionUrl: true });
    expect(Object.values(template.findResources('AWS::Lambda::Permission')).filter((r) => {
      const p = (r as { Properties: Record<string, unknown> }).Properties;
      return p.Principal === '*' && p.Action === 'lambda:InvokeFunction' && p.InvokedViaFunctionUrl !== true;
    })).toEqual([]);
    template.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'NONE', TargetFunctionArn: { 'Fn::GetAtt': [stack.getLogicalId(stack.ferry.webhookFunction.node.defaultChild as never), 'Arn'] } });
  });

  it('each function asset holds the entry, its chunks, their source maps and the baked config', () => {
    const assets = readdirSync(outdir).filter((d) => d.startsWith('asset.'));
    expect(assets.length).toBe(4);
    for (const a of assets) {
      const files = readdirSync(join(outdir, a));
      expect(files).toEqual(expect.arrayContaining([BAKED_CONFIG_FILE, 'index.mjs', 'index.mjs.map']));
      for (const f of files.filter((n) => n.endsWith('.mjs'))) {
        expect(files, `${a}: map of ${f}`).toContain(`${f}.map`);
        const code = readFileSync(join(outdir, a, f), 'utf8');
        expect(code.startsWith("import { createRequire as __ferryRequire } from 'node:module';"), `${a}/${f}: require banner`).toBe(true);
        expect(code.trimEnd().endsWith(`//# sourceMappingURL=${f}.map`), `${a}/${f}: source map link`).toBe(true);
      }
    }
  });

  it('the baked config keeps secret references and is valid for the runtime', () => {
    const asset = readdirSync(outdir).find((d) => d.startsWith('asset.'))!;
    const text = readFileSync(join(outdir, asset, BAKED_CONFIG_FILE), 'utf8');
    const config = readBakedConfig(text, { FERRY_QUEUE_URL: 'q', FERRY_DLQ_URL: 'd', FERRY_TABLE: 't', AWS_REGION: 'eu-west-1' });
    expect(config.registries.vault!.auth).toEqual({ secretArn: VAULT_SECRET });
    expect(config.registries.ecr!.webhook.secretArn).toBe(ECR_HOOK_SECRET);
    expect(config.registries.src!.auth).toBeUndefined();
    expect(config.registries.src!.webhook.secret).toBeUndefined();
    expect(config.worker).toEqual(parseConfigText(CONFIG, 'test.yaml', ENV).worker);
    expect(config.aws).toEqual({ region: 'eu-west-1', queueUrl: 'q', deadLetterQueueUrl: 'd', table: 't', createMissing: false });
  });
});

describe('FerryStack: no secret values are deployed', () => {
  it('markers set through ${env:...} appear neither in the template nor in any asset', () => {
    for (const marker of [PASSWORD_MARKER, HOOK_MARKER, TOKEN_MARKER]) {
      expect(json).not.toContain(marker);
      for (const file of walkFiles(outdir)) expect(readFileSync(file, 'latin1').includes(marker), `${marker} in ${file}`).toBe(false);
    }
  });

  it('plaintextSecrets: omit (the example config only) says which plaintext secrets were left out', () => {
    expect(stack.ferry.warnings.join('\n')).toMatch(/registries\.src\.auth: plaintext credentials are never deployed/);
    expect(stack.ferry.warnings.join('\n')).toMatch(/registries\.src\.webhook\.secret is plaintext and never deployed \(the deployed webhook would answer 401/);
    expect(stack.ferry.warnings.join('\n')).toMatch(/admin\.token is not deployed/);
  });

  it('by default a plaintext credential or webhook secret is a synth error naming each one', () => {
    const build = (config: FerryConfig) => () => new FerryStack(new App(), 's', { config });
    expect(build(configWith(''))).toThrow(FerryStackConfigError);
    expect(build(configWith(''))).toThrow(/registries\.src\.auth: plaintext credentials[\s\S]*registries\.src\.webhook\.secret is plaintext/);
    const clean = configWith('');
    delete clean.registries.src!.auth;
    clean.registries.src!.webhook = { secretArn: ECR_HOOK_SECRET, allowUnauthenticated: false };
    // admin.token is only a warning: the admin function is authorised by IAM, nothing breaks.
    expect(() => new FerryStack(new App(), 'ok', { config: clean })).not.toThrow();
  });
});

describe('FerryStack: job table', () => {
  it('on-demand, TTL on expiresAt, point-in-time recovery, the indexes the DynamoDB adapter queries', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      GlobalSecondaryIndexes: Object.values(INDEXES).map((ix) => Match.objectLike({
        IndexName: ix.indexName,
        KeySchema: [{ AttributeName: ix.partitionKey, KeyType: 'HASH' }, { AttributeName: ix.sortKey, KeyType: 'RANGE' }],
        Projection: { ProjectionType: 'ALL' },
      })),
    });
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain' });
  });
});

describe('FerryStack: least-privilege IAM', () => {
  it('no wildcard actions anywhere; "*" resources only for ecr:GetAuthorizationToken', () => {
    const policies = [...Object.values(template.findResources('AWS::IAM::Policy')), ...Object.values(template.findResources('AWS::IAM::ManagedPolicy'))];
    const statements = policies.flatMap((policy) => (policy as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument.Statement);
    // Not vacuous: the four functions' policies are there, and so is the one "*" statement.
    expect(statements.length).toBeGreaterThanOrEqual(4);
    expect(allActions(statements).filter((a) => /\*/.test(a))).toEqual([]);
    const wildcard = statements.filter((s) => s.Resource === '*');
    expect(wildcard.length).toBeGreaterThan(0);
    expect([...new Set(wildcard.flatMap(actions))]).toEqual(['ecr:GetAuthorizationToken']);
  });

  it('webhook: sends to the queue (not the DLQ), writes job records, reads only webhook secrets, no registry access', () => {
    const st = statementsOf('Webhook');
    expect(allActions(st)).toEqual(expect.arrayContaining(['sqs:SendMessage', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'secretsmanager:GetSecretValue']));
    expect(allActions(st)).not.toContain('sqs:ReceiveMessage');
    expect(allActions(st)).not.toContain('sqs:GetQueueAttributes');
    expect(allActions(st).some((a) => a.startsWith('ecr:'))).toBe(false);
    expect(resourcesOf(st, 'sqs:SendMessage')).not.toContain('DeadLetterQueue');
    expect(resourcesOf(st, 'secretsmanager:GetSecretValue')).toContain(ECR_HOOK_SECRET);
    expect(resourcesOf(st, 'secretsmanager:GetSecretValue')).not.toContain('vault-creds');
  });

  it('worker: consumes the queue, sends to the DLQ and back to the queue (requeue), reads registry credentials, pulls from and pushes to ECR', () => {
    const st = statementsOf('Worker');
    expect(allActions(st)).toEqual(expect.arrayContaining([
      'sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:SendMessage',
      'dynamodb:GetItem', 'dynamodb:UpdateItem', 'secretsmanager:GetSecretValue',
      'ecr:GetAuthorizationToken', 'ecr:BatchGetImage', 'ecr:PutImage', 'ecr:CompleteLayerUpload',
    ]));
    expect(resourcesOf(st, 'sqs:SendMessage')).toContain('DeadLetterQueue');
    expect(resourcesOf(st, 'sqs:SendMessage')).toContain('JobQueue');
    expect(resourcesOf(st, 'secretsmanager:GetSecretValue')).toContain(`${VAULT_SECRET}-??????`);
    expect(resourcesOf(st, 'secretsmanager:GetSecretValue')).not.toContain('ecr-hook');
    expect(resourcesOf(st, 'ecr:PutImage')).toContain(`:ecr:eu-west-1:${ECR_ACCOUNT}:repository/*`);
  });

  it('admin: job records, the DLQ (receive/delete for replay) and sending to the queue; no table or queue management', () => {
    const st = statementsOf('Admin');
    expect(allActions(st)).toEqual(expect.arrayContaining(['dynamodb:Query', 'dynamodb:UpdateItem', 'sqs:SendMessage', 'sqs:ReceiveMessage', 'sqs:DeleteMessage']));
    expect(resourcesOf(st, 'sqs:ReceiveMessage')).toContain('DeadLetterQueue');
    expect(allActions(st).filter((a) => /Create|Delete(Table|Queue)|Purge|SetQueueAttributes/.test(a))).toEqual([]);
    expect(allActions(st)).not.toContain('ecr:PutImage');
  });
});

describe('FerryStack: schedules and events', () => {
  it('one EventBridge schedule per policy with a schedule, cron converted, invoking reconcile with {policy}', () => {
    const reconcile = stack.getLogicalId(stack.ferry.reconcileFunction.node.defaultChild as never);
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'cron(0/30 * * * ? *)',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [reconcile, 'Arn'] }, Input: JSON.stringify({ policy: 'team-mirror' }) })],
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'cron(0 9 ? * MON-FRI *)',
      Targets: [Match.objectLike({ Input: JSON.stringify({ policy: 'ecr_out' }) })],
    });
    template.resourcePropertiesCountIs('AWS::Events::Rule', { ScheduleExpression: Match.anyValue() }, 2);
  });

  it('ECR source registries: a rule for their ECR Image Action events -> webhook function', () => {
    const webhook = stack.getLogicalId(stack.ferry.webhookFunction.node.defaultChild as never);
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.ecr'],
        'detail-type': ['ECR Image Action'],
        account: [ECR_ACCOUNT],
        region: ['eu-west-1'],
        detail: { result: ['SUCCESS'], 'action-type': ['PUSH', 'DELETE'] },
      },
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [webhook, 'Arn'] } })],
    });
    template.hasResourceProperties('AWS::Lambda::Permission', { Principal: 'events.amazonaws.com', FunctionName: { 'Fn::GetAtt': [webhook, 'Arn'] } });
  });
});

describe('FerryStack: alarms and outputs', () => {
  it('alarms on DLQ depth and on worker errors', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible', Namespace: 'AWS/SQS', Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Errors', Namespace: 'AWS/Lambda', Threshold: 1 });
  });

  it('outputs: a webhook URL per source registry, admin function name, queue URLs, table name', () => {
    const outputs = template.findOutputs('*');
    const url = JSON.stringify(outputs.WebhookUrlSrc?.Value);
    expect(url).toContain('webhooks/src');
    expect(JSON.stringify(outputs.WebhookUrlEcr?.Value)).toContain('webhooks/ecr');
    expect(JSON.stringify(outputs.WebhookUrlDr?.Value)).toContain('webhooks/dr');
    expect(outputs.WebhookUrlVault).toBeUndefined();
    for (const name of ['AdminFunctionName', 'QueueUrl', 'DeadLetterQueueUrl', 'TableName']) expect(outputs[name], name).toBeDefined();
  });
});

describe('FerryStack: configs it refuses, with the reason', () => {
  it('worker.concurrency 1: the SQS event source maximum concurrency must be 2-1000', () => {
    const config = configWith('');
    config.worker.concurrency = 1;
    expect(() => new FerryStack(new App(), 's', { config })).toThrow(FerryStackConfigError);
    expect(() => new FerryStack(new App(), 's', { config })).toThrow(/worker\.concurrency is 1; on AWS it must be at least 2.*2 to 1000/);
  });

  it('a schedule EventBridge cannot express', () => {
    const config = configWith('');
    config.policies[0]!.schedule = '0 0 1 * 1';
    expect(() => new FerryStack(new App(), 's', { config })).toThrow(/policies\.team-mirror\.schedule: .*both day-of-month and day-of-week/);
  });

  it('batch sizes above what the event source takes, worker timeouts above 15 minutes', () => {
    expect(() => new FerryStack(new App(), 's', { config: configWith(''), batchSize: 11 })).toThrow(/batchSize is 11/);
    expect(() => new FerryStack(new App(), 's', { config: configWith(''), workerTimeout: Duration.minutes(16) })).toThrow(/at most 15 minutes/);
  });
});

describe('synth config selection', () => {
  it('--context config wins, then FERRY_CONFIG, then ferry.yaml, then ferry.example.yaml', () => {
    expect(synthConfigPath('ctx.yaml', { FERRY_CONFIG: 'env.yaml' })).toBe('ctx.yaml');
    expect(synthConfigPath(undefined, { FERRY_CONFIG: 'env.yaml' })).toBe('env.yaml');
    expect(synthConfigPath(undefined, {}, (p) => p === 'ferry.yaml')).toBe('ferry.yaml');
    expect(synthConfigPath(undefined, {}, () => false)).toBe(EXAMPLE_CONFIG_PATH);
  });

  it('a deployment refuses the example config, however it is named', () => {
    expect(deployGuardProblem(EXAMPLE_CONFIG_PATH, true)).toMatch(/refusing to deploy the example config/);
    expect(deployGuardProblem(relative(process.cwd(), EXAMPLE_CONFIG_PATH), true)).toMatch(/refusing/);
    expect(deployGuardProblem(EXAMPLE_CONFIG_PATH, false)).toBeUndefined();
    expect(deployGuardProblem('ferry.yaml', true)).toBeUndefined();
  });

  it('a missing config file is a config error naming the file, not a stack trace', () => {
    expect(() => loadSynthConfig(join(tmpdir(), 'no-such-ferry.yaml'), {})).toThrow(/no-such-ferry\.yaml: file not found/);
  });

  it('the example config synthesises without its environment variables (they are placeholders, then stripped)', () => {
    const loaded = loadSynthConfig(EXAMPLE_CONFIG_PATH, {});
    expect(loaded.unsetVariables).toEqual(expect.arrayContaining(['SRC_PASSWORD', 'SRC_HOOK_SECRET']));
    const app = new App({ outdir: mkdtempSync(join(tmpdir(), 'ferry-cdk-example-')) });
    try {
      const example = new FerryStack(app, 'example', { config: loaded.config, plaintextSecrets: 'omit' });
      expect(JSON.stringify(Template.fromStack(example).toJSON())).not.toContain('unset-at-synth-');
    } finally {
      rmSync(app.outdir, { recursive: true, force: true });
    }
  });
});
