// FerryReplication: everything ferry needs in one AWS account, built from a validated
// ferry.yaml. Queue + DLQ, job table, four functions with least-privilege roles, the
// webhook Function URL, schedules for periodic reconcile, an ECR EventBridge rule, alarms.
import {
  AssetHashType, DockerImage, Duration, RemovalPolicy, Stack, Token, Validations,
  aws_cloudwatch as cloudwatch, aws_dynamodb as dynamodb, aws_ec2 as ec2, aws_events as events,
  aws_events_targets as targets, aws_iam as iam, type aws_kms as kms, aws_lambda as lambda,
  aws_lambda_event_sources as sources, aws_logs as logs, aws_sqs as sqs,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { createHash } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ENV, bakeConfig } from '../../functions/lib/baked-config.js';
import type { FerryConfig } from '../../shared/config/schema.js';
import { LAMBDA_HANDLER, bundleHandlers, writeFunctionAsset, type HandlerName } from './bundle.js';
import { toEventBridgeCron } from './cron.js';
import {
  destinationRegistries, ecrEventSources, ecrRegistries, registryAuthSecretArns,
  secretResourceArns, sourceRegistries, webhookSecretArns, type EcrRegistryRef,
} from './registries.js';
import { JOB_TABLE, TABLE_ACTIONS } from './table.js';

export interface FerryReplicationProps {
  /** ferry.yaml, validated. Plaintext secrets in it are never deployed (see bakeConfig). */
  config: FerryConfig;
  /**
   * Plaintext registry credentials or webhook secrets in the config: `error` (default)
   * refuses the config, since the deployed functions could not authenticate without them;
   * `omit` leaves them out with a warning (only for synthesising the example config).
   */
  plaintextSecrets?: 'error' | 'omit';
  /** SQS records per worker invocation (1-10). Default 5. */
  batchSize?: number;
  /** Records of one batch processed at once. Default: batchSize. */
  batchConcurrency?: number;
  /** Worker timeout; the queue's visibility timeout is six times this. Default 15 minutes (the Lambda maximum). */
  workerTimeout?: Duration;
  /** Worker memory (Lambda CPU and network scale with it). Default 1024 MiB. */
  workerMemorySize?: number;
  /** What alarms do when they fire (e.g. an SNS action). Default: none, alarms are visible in CloudWatch. */
  alarmActions?: cloudwatch.IAlarmAction[];
  /** Job table on stack deletion. Default RETAIN: job history outlives the stack. */
  tableRemovalPolicy?: RemovalPolicy;
  /**
   * Runs every function in this VPC (subnets: `vpcSubnets`, default the private subnets
   * with egress). Registries are then reached through NAT, or through `proxy`; SQS,
   * DynamoDB and Secrets Manager through NAT or VPC endpoints.
   */
  vpc?: ec2.IVpc;
  vpcSubnets?: ec2.SubnetSelection;
  /** Security groups of the functions. Default: one created by the construct (all outbound). */
  securityGroups?: ec2.ISecurityGroup[];
  /**
   * Forward proxy for registry traffic, set as HTTPS_PROXY / HTTP_PROXY / NO_PROXY on the
   * functions (ferry's registry transport honours them; a registry's own `proxy` wins).
   */
  proxy?: { httpsProxy?: string; httpProxy?: string; noProxy?: string };
  /** Customer-managed KMS key for the queues, the job table and the log groups. Default: AWS-owned/managed keys. */
  encryptionKey?: kms.IKey;
  /** How long function logs are kept. Default one month. */
  logRetention?: logs.RetentionDays;
  /**
   * Prefix of physical names (functions `<prefix>-webhook`..., queues `<prefix>-jobs` and
   * `<prefix>-jobs-dlq`, table `<prefix>-jobs`). Default: names CloudFormation generates.
   */
  namePrefix?: string;
  /**
   * Reserved concurrency of the webhook function: at most this many requests are handled
   * at once; more get HTTP 429 from the Function URL, which registries retry. Default 10.
   */
  webhookReservedConcurrency?: number;
  /** KMS keys that encrypt the Secrets Manager secrets the config names (granted kms:Decrypt). */
  secretsKmsKeys?: kms.IKey[];
}

/** A config the stack cannot deploy, with what to change. */
export class FerryStackConfigError extends Error {
  override readonly name = 'FerryStackConfigError';
}

/** Webhook requests handled at once unless webhookReservedConcurrency says otherwise. */
export const DEFAULT_WEBHOOK_CONCURRENCY = 10;

/** SQS event source mappings accept a maximum concurrency of 2 to 1000. */
export const MIN_WORKER_CONCURRENCY = 2;
const MAX_LAMBDA_TIMEOUT_MINUTES = 15;
/** AWS guidance for SQS-triggered functions: visibility timeout at least six times the function timeout. */
const VISIBILITY_FACTOR = 6;

export class FerryReplication extends Construct {
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly table: dynamodb.Table;
  readonly webhookFunction: lambda.Function;
  readonly webhookUrl: lambda.FunctionUrl;
  readonly workerFunction: lambda.Function;
  readonly adminFunction: lambda.Function;
  readonly reconcileFunction: lambda.Function;
  readonly schedules: Record<string, events.Rule> = {};
  readonly ecrRules: Record<string, events.Rule> = {};
  readonly alarms: { deadLetters: cloudwatch.Alarm; workerErrors: cloudwatch.Alarm };
  /** Synth-time notes (e.g. plaintext secrets that were left out). */
  readonly warnings: string[];

  constructor(scope: Construct, id: string, props: FerryReplicationProps) {
    super(scope, id);
    const { config } = props;
    const concurrency = config.worker.concurrency;
    if (concurrency < MIN_WORKER_CONCURRENCY) {
      throw new FerryStackConfigError(
        `worker.concurrency is ${concurrency}; on AWS it must be at least ${MIN_WORKER_CONCURRENCY}: it sets both the worker's reserved concurrency ` +
        `and the SQS event source's maximum concurrency, which AWS accepts only from 2 to 1000. Set worker.concurrency: 2 or more.`,
      );
    }
    const batchSize = props.batchSize ?? 5;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10) {
      throw new FerryStackConfigError(`batchSize is ${batchSize}; it must be 1-10 (SQS event sources without a batching window take at most 10 records)`);
    }
    const batchConcurrency = props.batchConcurrency ?? batchSize;
    const workerTimeout = props.workerTimeout ?? Duration.minutes(MAX_LAMBDA_TIMEOUT_MINUTES);
    if (workerTimeout.toSeconds() > MAX_LAMBDA_TIMEOUT_MINUTES * 60) {
      throw new FerryStackConfigError(`workerTimeout is ${workerTimeout.toHumanString()}; Lambda allows at most ${MAX_LAMBDA_TIMEOUT_MINUTES} minutes`);
    }
    const schedules = config.policies.flatMap((p) => {
      if (!p.schedule) return [];
      try {
        return [{ policy: p.name, cron: toEventBridgeCron(p.schedule) }];
      } catch (e) {
        throw new FerryStackConfigError(`policies.${p.name}.schedule: ${(e as Error).message}`);
      }
    });

    const baked = bakeConfig(config);
    if (baked.undeployable.length > 0 && (props.plaintextSecrets ?? 'error') === 'error') {
      throw new FerryStackConfigError(`secrets the stack cannot deploy:\n  ${baked.undeployable.join('\n  ')}`);
    }
    this.warnings = [...baked.undeployable, ...baked.warnings];
    const stackAccount = Stack.of(this).account;
    for (const ecr of ecrEventSources(config)) {
      // EventBridge delivers ECR events only in the registry's own account: another account
      // must forward them to this one's default bus (infra/aws/README.md shows the rule).
      if (!Token.isUnresolved(stackAccount) && ecr.account !== stackAccount) {
        this.warnings.push(`registries.${ecr.name}: ECR registry in account ${ecr.account}, stack in ${stackAccount}: its push/delete events reach this stack only if account ${ecr.account} forwards them to this account's default event bus (see infra/aws/README.md, "Cross-account ECR sources"); until then only scheduled reconciles replicate it`);
      }
    }

    const key = props.encryptionKey;
    const prefix = props.namePrefix;
    if (prefix !== undefined && !/^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$/.test(prefix)) {
      throw new FerryStackConfigError(`namePrefix ${JSON.stringify(prefix)}: use 1-40 letters, digits, _ and - (it starts function, queue and table names)`);
    }
    const webhookConcurrency = props.webhookReservedConcurrency ?? DEFAULT_WEBHOOK_CONCURRENCY;
    if (!Number.isInteger(webhookConcurrency) || webhookConcurrency < 1) {
      throw new FerryStackConfigError(`webhookReservedConcurrency is ${webhookConcurrency}; it must be a whole number of at least 1`);
    }
    const queueEncryption = key
      ? { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: key }
      : { encryption: sqs.QueueEncryption.SQS_MANAGED };

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      ...(prefix ? { queueName: `${prefix}-jobs-dlq` } : {}),
      retentionPeriod: Duration.days(14),
      ...queueEncryption,
      enforceSSL: true,
    });
    this.queue = new sqs.Queue(this, 'JobQueue', {
      ...(prefix ? { queueName: `${prefix}-jobs` } : {}),
      visibilityTimeout: Duration.seconds(workerTimeout.toSeconds() * VISIBILITY_FACTOR),
      retentionPeriod: Duration.days(14),
      ...queueEncryption,
      enforceSSL: true,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: config.worker.maxAttempts },
    });
    this.table = new dynamodb.Table(this, 'JobTable', {
      ...JOB_TABLE.keys,
      ...(prefix ? { tableName: `${prefix}-jobs` } : {}),
      ...(key ? { encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED, encryptionKey: key } : {}),
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: JOB_TABLE.ttlAttribute,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      removalPolicy: props.tableRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    for (const index of JOB_TABLE.indexes) this.table.addGlobalSecondaryIndex(index);

    const environment: Record<string, string> = {
      [ENV.queueUrl]: this.queue.queueUrl,
      [ENV.deadLetterQueueUrl]: this.deadLetterQueue.queueUrl,
      [ENV.table]: this.table.tableName,
      NODE_OPTIONS: '--enable-source-maps',
      ...(props.proxy?.httpsProxy ? { HTTPS_PROXY: props.proxy.httpsProxy } : {}),
      ...(props.proxy?.httpProxy ? { HTTP_PROXY: props.proxy.httpProxy } : {}),
      ...(props.proxy?.noProxy ? { NO_PROXY: props.proxy.noProxy } : {}),
    };
    if (key) {
      // CloudWatch Logs encrypts the function log groups with the key (a key created in
      // another stack must allow this in its own policy).
      key.grantEncryptDecrypt(new iam.ServicePrincipal(`logs.${Stack.of(this).region}.amazonaws.com`));
    }
    const vpcProps = props.vpc
      ? {
          vpc: props.vpc,
          vpcSubnets: props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
          ...(props.securityGroups ? { securityGroups: props.securityGroups } : {}),
        }
      : {};
    if (!props.vpc && (props.vpcSubnets || props.securityGroups)) {
      throw new FerryStackConfigError('vpcSubnets and securityGroups need vpc');
    }
    const bundles = bundleHandlers();
    const fn = (name: HandlerName, options: { timeout: Duration; memorySize: number; description: string; extraEnv?: Record<string, string>; reservedConcurrentExecutions?: number }): lambda.Function => {
      const bundle = bundles.get(name)!;
      const functionName = prefix ? `${prefix}-${name}` : undefined;
      const logGroup = new logs.LogGroup(this, `${cap(name)}Logs`, {
        ...(functionName ? { logGroupName: `/aws/lambda/${functionName}` } : {}),
        retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
        ...(key ? { encryptionKey: key } : {}),
        removalPolicy: RemovalPolicy.DESTROY,
      });
      const role = this.executionRole(name, logGroup, props.vpc !== undefined);
      // SQS with a KMS key: senders need GenerateDataKey + Decrypt, receivers Decrypt. Named
      // actions rather than grantEncryptDecrypt's wildcards (ReEncrypt*, GenerateDataKey*).
      if (key) key.grant(role, 'kms:Decrypt', 'kms:GenerateDataKey');
      return new lambda.Function(this, `${cap(name)}Function`, {
        ...(functionName ? { functionName } : {}),
        description: options.description,
        role,
        ...vpcProps,
        runtime: LAMBDA_RUNTIME,
        architecture: lambda.Architecture.ARM_64,
        handler: LAMBDA_HANDLER,
        code: lambda.Code.fromAsset(FUNCTIONS_DIR, {
          assetHashType: AssetHashType.CUSTOM,
          assetHash: createHash('sha256').update(bundle.hash).update('\0').update(baked.json).digest('hex'),
          bundling: {
            // Never used: local bundling always succeeds (esbuild is a dependency), no Docker needed.
            image: DockerImage.fromRegistry('ferry/no-docker-bundling'),
            local: { tryBundle: (outputDir) => { writeFunctionAsset(outputDir, bundle, baked.json); return true; } },
          },
        }),
        timeout: options.timeout,
        memorySize: options.memorySize,
        environment: { ...environment, ...options.extraEnv },
        logGroup,
        ...(options.reservedConcurrentExecutions !== undefined ? { reservedConcurrentExecutions: options.reservedConcurrentExecutions } : {}),
      });
    };

    this.webhookFunction = fn('webhook', {
      timeout: Duration.seconds(30), memorySize: 256, description: 'ferry: registry webhooks and ECR events -> jobs',
      // The URL is public: a flood may not scale the function without bound (excess: 429, senders retry).
      reservedConcurrentExecutions: webhookConcurrency,
    });
    this.webhookUrl = this.webhookFunction.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE });
    this.workerFunction = fn('worker', {
      timeout: workerTimeout,
      memorySize: props.workerMemorySize ?? 1024,
      description: 'ferry: runs replication jobs from the queue',
      reservedConcurrentExecutions: concurrency,
      extraEnv: { [ENV.batchConcurrency]: String(batchConcurrency) },
    });
    this.workerFunction.addEventSource(new sources.SqsEventSource(this.queue, {
      batchSize,
      maxConcurrency: concurrency,
      reportBatchItemFailures: true,
    }));
    this.adminFunction = fn('admin', { timeout: Duration.minutes(5), memorySize: 512, description: 'ferry: jobs, DLQ and replay (IAM-authorised invoke)' });
    this.reconcileFunction = fn('reconcile', { timeout: Duration.minutes(MAX_LAMBDA_TIMEOUT_MINUTES), memorySize: 512, description: 'ferry: periodic reconcile (initial sync + drift repair)' });

    this.grantLeastPrivilege(config);
    for (const secretsKey of props.secretsKmsKeys ?? []) {
      // Secrets Manager decrypts with the caller's permission on the key.
      for (const f of [this.webhookFunction, this.workerFunction, this.adminFunction, this.reconcileFunction]) secretsKey.grantDecrypt(f.role!);
    }

    for (const { policy, cron } of schedules) {
      const rule = new events.Rule(this, `Schedule${logicalName(policy)}`, {
        description: `ferry: reconcile policy ${policy}`,
        schedule: events.Schedule.expression(`cron(${cron})`),
      });
      rule.addTarget(new targets.LambdaFunction(this.reconcileFunction, { event: events.RuleTargetInput.fromObject({ policy }) }));
      this.schedules[policy] = rule;
    }
    for (const ecr of ecrEventSources(config)) {
      const rule = new events.Rule(this, `EcrEvents${logicalName(ecr.name)}`, {
        description: `ferry: ECR image pushes and deletes of registry ${ecr.name}`,
        eventPattern: {
          source: ['aws.ecr'],
          detailType: ['ECR Image Action'],
          account: [ecr.account],
          region: [ecr.region],
          detail: { result: ['SUCCESS'], 'action-type': ['PUSH', 'DELETE'] },
        },
      });
      rule.addTarget(new targets.LambdaFunction(this.webhookFunction));
      this.ecrRules[ecr.name] = rule;
    }

    const deadLetters = new cloudwatch.Alarm(this, 'DeadLettersAlarm', {
      alarmDescription: 'ferry: jobs exhausted their attempts and wait in the dead-letter queue (replay with the admin function)',
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: 'Maximum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const workerErrors = new cloudwatch.Alarm(this, 'WorkerErrorsAlarm', {
      alarmDescription: 'ferry: the worker function failed invocations (crashes or timeouts, not job failures)',
      metric: this.workerFunction.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    for (const action of props.alarmActions ?? []) {
      deadLetters.addAlarmAction(action);
      workerErrors.addAlarmAction(action);
    }
    this.alarms = { deadLetters, workerErrors };
  }

  /**
   * A role with a customer-managed execution policy in place of the AWS-managed
   * AWSLambdaBasicExecutionRole: it may write to its own log group only (the function never
   * creates log groups; the stack does). The construct id keeps the logical id of the role
   * the function used to create for itself.
   */
  private executionRole(name: HandlerName, logGroup: logs.LogGroup, inVpc: boolean): iam.Role {
    const role = new iam.Role(this, `${cap(name)}FunctionServiceRole`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `ferry ${name} function`,
    });
    const policy = new iam.ManagedPolicy(this, `${cap(name)}FunctionExecutionPolicy`, {
      description: `ferry ${name} function: write its own log group`,
      statements: [new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] })],
    });
    if (inVpc) {
      // What AWSLambdaVPCAccessExecutionRole grants: Lambda manages the functions' network interfaces.
      policy.addStatements(new iam.PolicyStatement({
        actions: ['ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces', 'ec2:DescribeSubnets', 'ec2:DeleteNetworkInterface', 'ec2:AssignPrivateIpAddresses', 'ec2:UnassignPrivateIpAddresses'],
        resources: ['*'],
      }));
      Validations.of(policy).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'Lambda creates the VPC network interfaces with the function role; EC2 offers no resource-level permission for DescribeNetworkInterfaces and the interface ids are not known in advance (this is what AWSLambdaVPCAccessExecutionRole grants).',
      });
    }
    role.addManagedPolicy(policy);
    return role;
  }

  /** Every statement names its actions; no wildcard actions anywhere. */
  private grantLeastPrivilege(config: FerryConfig): void {
    // Each index by name, rather than `index/*`, so a wildcard never reaches the policy.
    const tableResources = [this.table.tableArn, ...JOB_TABLE.indexes.map((ix) => `${this.table.tableArn}/index/${ix.indexName}`)];
    const allow = (fnc: lambda.Function, actions: string[], resources: string[]): void => {
      if (resources.length === 0) return;
      fnc.addToRolePolicy(new iam.PolicyStatement({ actions, resources }));
    };
    const registrySecrets = registryAuthSecretArns(config).flatMap(secretResourceArns);
    const hookSecrets = webhookSecretArns(config).flatMap(secretResourceArns);
    const sources = ecrRegistries(config, sourceRegistries(config));
    const destinations = ecrRegistries(config, destinationRegistries(config));

    // webhook: create job records, send their messages.
    allow(this.webhookFunction, TABLE_ACTIONS.enqueue, tableResources);
    allow(this.webhookFunction, ['sqs:SendMessage'], [this.queue.queueArn]);
    allow(this.webhookFunction, ['secretsmanager:GetSecretValue'], hookSecrets);

    // worker: the event source's own grant covers receive, delete and change-visibility on
    // the queue (the runner's backoff and heartbeat); it also dead-letters explicitly, puts
    // deferred messages back as fresh ones (JobQueue.requeue: a wait is not a delivery), and
    // reads/writes job records.
    allow(this.workerFunction, TABLE_ACTIONS.run, tableResources);
    allow(this.workerFunction, ['sqs:SendMessage'], [this.deadLetterQueue.queueArn, this.queue.queueArn]);
    allow(this.workerFunction, ['secretsmanager:GetSecretValue'], registrySecrets);
    this.grantEcr(this.workerFunction, sources, destinations);
    this.grantEcrRepositoryCreation(config, destinations);

    // reconcile: reads registries, enqueues.
    allow(this.reconcileFunction, TABLE_ACTIONS.enqueue, tableResources);
    allow(this.reconcileFunction, ['sqs:SendMessage'], [this.queue.queueArn]);
    allow(this.reconcileFunction, ['secretsmanager:GetSecretValue'], registrySecrets);
    this.grantEcr(this.reconcileFunction, sources, destinations, { readOnly: true });

    // admin: jobs, DLQ inspection and replay, sync (= reconcile on demand).
    allow(this.adminFunction, TABLE_ACTIONS.admin, tableResources);
    allow(this.adminFunction, ['sqs:SendMessage', 'sqs:GetQueueAttributes'], [this.queue.queueArn]);
    allow(this.adminFunction, ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueAttributes'], [this.deadLetterQueue.queueArn]);
    allow(this.adminFunction, ['secretsmanager:GetSecretValue'], registrySecrets);
    this.grantEcr(this.adminFunction, sources, destinations, { readOnly: true });
  }

  /**
   * `ecr.createRepositories`: the worker may create (and describe, and set the policy of)
   * repositories under the literal prefix of the policies' destination templates for that
   * registry ("mirror/{repository}" -> repository/mirror/*), nothing else.
   */
  private grantEcrRepositoryCreation(config: FerryConfig, destinations: EcrRegistryRef[]): void {
    const partition = Stack.of(this).partition;
    const nagPartition = Token.isUnresolved(partition) ? '<AWS::Partition>' : partition;
    const role = this.workerFunction.role!;
    for (const ref of destinations) {
      const settings = config.registries[ref.name]?.ecr;
      if (!settings?.createRepositories) continue;
      const prefixes = [...new Set(config.policies.flatMap((p) => p.destinations.filter((d) => d.registry === ref.name).map((d) => d.repository.split('{')[0]!)))];
      const resources = prefixes.map((prefix) => `arn:${partition}:ecr:${ref.region}:${ref.account}:repository/${prefix}*`);
      const actions = ['ecr:DescribeRepositories', 'ecr:CreateRepository', ...(settings.repositoryPolicy !== undefined ? ['ecr:SetRepositoryPolicy'] : [])];
      this.workerFunction.addToRolePolicy(new iam.PolicyStatement({ actions, resources }));
      for (const prefix of prefixes) {
        if (prefix === '') continue; // repository/* is acknowledged with the other ECR grants
        Validations.of(role).acknowledge({
          id: `AwsSolutions-IAM5[Resource::arn:${nagPartition}:ecr:${ref.region}:${ref.account}:repository/${prefix}*]`,
          reason: `ecr.createRepositories of registry ${ref.name}: the worker creates the repositories its destination template (prefix ${prefix}) names at run time; they cannot be listed in advance.`,
        });
      }
    }
  }

  private grantEcr(fnc: lambda.Function, sources: EcrRegistryRef[], destinations: EcrRegistryRef[], options: { readOnly?: boolean } = {}): void {
    if (sources.length + destinations.length === 0) return;
    const partition = Stack.of(this).partition;
    const repos = (refs: EcrRegistryRef[]): string[] => [...new Set(refs.map((r) => `arn:${partition}:ecr:${r.region}:${r.account}:repository/*`))];
    // GetAuthorizationToken is not resource-scoped in IAM: the token's use is limited by the statements below.
    fnc.addToRolePolicy(new iam.PolicyStatement({ actions: ['ecr:GetAuthorizationToken'], resources: ['*'] }));
    const role = fnc.role!;
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ecr:GetAuthorizationToken supports no resource-level permissions (IAM requires "*"); the token only carries the repository permissions granted beside it.',
    });
    const nagPartition = Token.isUnresolved(partition) ? '<AWS::Partition>' : partition;
    for (const r of [...sources, ...destinations]) {
      Validations.of(role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:${nagPartition}:ecr:${r.region}:${r.account}:repository/*]`,
        reason: `Repositories of registry ${r.name} are chosen at run time by the policies' repository globs and destination templates; access is limited to that registry's account and region.`,
      });
    }
    const read = ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchCheckLayerAvailability', 'ecr:DescribeImages', 'ecr:ListImages'];
    const write = ['ecr:InitiateLayerUpload', 'ecr:UploadLayerPart', 'ecr:CompleteLayerUpload', 'ecr:PutImage', 'ecr:BatchDeleteImage'];
    const readable = repos([...sources, ...destinations]);
    fnc.addToRolePolicy(new iam.PolicyStatement({ actions: read, resources: readable }));
    if (!options.readOnly && destinations.length > 0) fnc.addToRolePolicy(new iam.PolicyStatement({ actions: write, resources: repos(destinations) }));
  }
}

/**
 * The newest Node.js runtime aws-cdk-lib offers (cdk-nag AwsSolutions-L1). The bundles
 * target Node 20 so the same code also runs locally (engines: node >= 20.19).
 */
export const LAMBDA_RUNTIME = lambda.Runtime.NODEJS_24_X;

const FUNCTIONS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../functions');

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Policy and registry names -> a CloudFormation-safe id that stays unique ("a-b" and "a_b" differ). */
export function logicalName(name: string): string {
  const clean = name.split(/[^A-Za-z0-9]+/).filter(Boolean).map(cap).join('');
  return /^[A-Za-z0-9]+$/.test(name) ? clean : `${clean}${createHash('sha256').update(name).digest('hex').slice(0, 6)}`;
}

