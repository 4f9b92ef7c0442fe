// CDK app entry (cdk.json: "npx tsx infra/aws/app.ts"). Synthesises offline with no
// credentials: the stack is environment-agnostic unless CDK_DEFAULT_ACCOUNT is known.
import { App } from 'aws-cdk-lib';
import { relative } from 'node:path';
import { ConfigError } from '../../shared/config/load.js';
import { FerryStackConfigError } from './construct.js';
import { FerryStack } from './stack.js';
import { DEPLOY_CONTEXT, deployGuardProblem, isExampleConfig, loadSynthConfig, synthConfigPath } from './synth-config.js';

const app = new App();
const path = synthConfigPath(app.node.tryGetContext('config'), process.env);
const deploying = ['true', true].includes(app.node.tryGetContext(DEPLOY_CONTEXT));
const refused = deployGuardProblem(path, deploying);
if (refused) {
  process.stderr.write(`ferry deploy: ${refused}\n`);
  process.exit(2);
}
const example = isExampleConfig(path);
if (example) process.stderr.write(`ferry synth: synthesising the example config ${path} (no ferry.yaml; a check only, npm run deploy refuses it)\n`);
try {
  const { config } = loadSynthConfig(path);
  const stackName = String(app.node.tryGetContext('stackName') ?? process.env.FERRY_STACK_NAME ?? 'ferry');
  const account = process.env.CDK_DEFAULT_ACCOUNT;
  const region = process.env.CDK_DEFAULT_REGION ?? config.aws?.region;
  new FerryStack(app, stackName, {
    config,
    // The example holds plaintext secrets to document them; it is never deployed.
    plaintextSecrets: example ? 'omit' : 'error',
    description: `ferry: container image replication (config ${relative(process.cwd(), path) || path})`,
    ...(account && region ? { env: { account, region } } : {}),
  });
  app.synth();
} catch (e) {
  if (e instanceof ConfigError || e instanceof FerryStackConfigError) {
    process.stderr.write(`ferry synth: ${e instanceof FerryStackConfigError ? `${path}: ` : ''}${e.message}\n`);
    process.exit(2);
  }
  throw e;
}
