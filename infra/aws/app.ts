// CDK app entry (cdk.json: "npx tsx infra/aws/app.ts"). Synthesises offline with no
// credentials: the stack is environment-agnostic unless CDK_DEFAULT_ACCOUNT is known.
import { App } from 'aws-cdk-lib';
import { ConfigError } from '../../shared/config/load.js';
import { FerryStackConfigError } from './construct.js';
import { FerryStack } from './stack.js';
import { loadSynthConfig, synthConfigPath } from './synth-config.js';

const app = new App();
const path = synthConfigPath(app.node.tryGetContext('config'), process.env);
try {
  const { config } = loadSynthConfig(path);
  const stackName = String(app.node.tryGetContext('stackName') ?? process.env.FERRY_STACK_NAME ?? 'ferry');
  const account = process.env.CDK_DEFAULT_ACCOUNT;
  const region = process.env.CDK_DEFAULT_REGION ?? config.aws?.region;
  new FerryStack(app, stackName, {
    config,
    description: `ferry: container image replication (config ${path})`,
    ...(account && region ? { env: { account, region } } : {}),
  });
  app.synth();
} catch (e) {
  if (e instanceof ConfigError || e instanceof FerryStackConfigError) {
    process.stderr.write(`ferry synth: ${e.message}\n`);
    process.exit(2);
  }
  throw e;
}
