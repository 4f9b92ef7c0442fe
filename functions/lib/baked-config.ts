// The config the Lambda functions run with is ferry.yaml as validated at synth time,
// written next to each bundle. Plaintext secrets never travel that way: on AWS they are
// referenced by Secrets Manager ARN and fetched at cold start (secrets.ts). Durations are
// written back as "<n>ms" so the runtime re-validates the file with the same schema.
import { configSchema, type FerryConfig, type FerryConfigInput } from '../../shared/config/schema.js';

export const BAKED_CONFIG_FILE = 'ferry-config.json';

/** Environment variables the stack sets on every function (resources known only at deploy time). */
export const ENV = {
  queueUrl: 'FERRY_QUEUE_URL',
  deadLetterQueueUrl: 'FERRY_DLQ_URL',
  table: 'FERRY_TABLE',
  /** Overrides where the baked config is read from (tests run the handlers from source). */
  configFile: 'FERRY_CONFIG_FILE',
  batchConcurrency: 'FERRY_BATCH_CONCURRENCY',
} as const;

export interface BakedConfig {
  /** JSON text for BAKED_CONFIG_FILE. */
  json: string;
  /** What was left out although nothing breaks without it (the synth prints these). */
  warnings: string[];
  /**
   * Credentials and webhook secrets that could not be deployed: without them the deployed
   * functions fail to authenticate (or answer 401), so the stack refuses them.
   */
  undeployable: string[];
}

/** Strips plaintext secrets and host-local settings; the result is safe to put in a deployment asset. */
export function bakeConfig(config: FerryConfig): BakedConfig {
  const warnings: string[] = [];
  const undeployable: string[] = [];
  const registries: NonNullable<FerryConfigInput['registries']> = {};
  for (const [name, reg] of Object.entries(config.registries)) {
    const { auth, webhook, ...rest } = reg;
    const out: NonNullable<FerryConfigInput['registries']>[string] = { ...rest };
    if (auth) {
      if ('secretArn' in auth || 'ecr' in auth) out.auth = auth;
      else if ('dockerConfig' in auth) undeployable.push(`registries.${name}.auth: dockerConfig is not available in Lambda; use auth: { secretArn } or { ecr }`);
      else undeployable.push(`registries.${name}.auth: plaintext credentials are never deployed (the functions could not authenticate); store {"username","password"} or {"token"} in Secrets Manager and use auth: { secretArn }`);
    }
    const hook: { secretArn?: string; allowUnauthenticated: boolean } = { allowUnauthenticated: webhook.allowUnauthenticated };
    if (webhook.secretArn) hook.secretArn = webhook.secretArn;
    if (webhook.secret !== undefined && !webhook.secretArn) {
      undeployable.push(`registries.${name}.webhook.secret is plaintext and never deployed${webhook.allowUnauthenticated ? '' : ' (the deployed webhook would answer 401 for this registry)'}; store it in Secrets Manager and use webhook.secretArn`);
    }
    out.webhook = hook;
    registries[name] = out;
  }
  if (config.admin.token !== undefined) warnings.push('admin.token is not deployed: the admin function is authorised by IAM');
  const baked: FerryConfigInput = {
    backend: 'aws',
    aws: { region: config.aws?.region ?? 'us-east-1', table: config.aws?.table ?? 'ferry-jobs' },
    registries,
    policies: config.policies,
    worker: {
      ...config.worker,
      retryDelay: ms(config.worker.retryDelay),
      visibilityTimeout: ms(config.worker.visibilityTimeout),
      shutdownGrace: ms(config.worker.shutdownGrace),
      jobTimeout: ms(config.worker.jobTimeout),
      minTransferRateWindow: ms(config.worker.minTransferRateWindow),
    },
    retention: ms(config.retention),
  };
  return { json: JSON.stringify(baked, null, 2), warnings, undeployable };
}

function ms(value: number): string {
  return `${value}ms`;
}

export class BakedConfigError extends Error {
  override readonly name = 'BakedConfigError';
}

/**
 * Validates the baked file and fills the `aws` section from the function's environment:
 * queue and table names exist only once the stack is deployed.
 */
export function readBakedConfig(json: string, env: Record<string, string | undefined>, source = BAKED_CONFIG_FILE): FerryConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (e) {
    throw new BakedConfigError(`${source}: not JSON: ${(e as Error).message}`);
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new BakedConfigError(`${source}: invalid config: ${issues}`);
  }
  const config = parsed.data;
  const queueUrl = env[ENV.queueUrl];
  const deadLetterQueueUrl = env[ENV.deadLetterQueueUrl];
  const table = env[ENV.table];
  const missing = Object.entries({ [ENV.queueUrl]: queueUrl, [ENV.deadLetterQueueUrl]: deadLetterQueueUrl, [ENV.table]: table })
    .filter(([, v]) => !v).map(([k]) => k);
  if (missing.length > 0) throw new BakedConfigError(`missing environment: ${missing.join(', ')} (set by the ferry stack)`);
  return {
    ...config,
    backend: 'aws',
    aws: {
      region: env.AWS_REGION ?? config.aws?.region ?? 'us-east-1',
      queueUrl: queueUrl!,
      deadLetterQueueUrl: deadLetterQueueUrl!,
      table: table!,
      createMissing: false,
    },
  };
}
