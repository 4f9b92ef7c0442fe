// FerryStack: the FerryReplication construct plus the outputs an operator needs to wire
// registries (webhook URL per source registry) and to administer the deployment.
import { Annotations, CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { FerryConfig } from '../../shared/config/schema.js';
import { FerryReplication, logicalName, type FerryReplicationProps } from './construct.js';
import { sourceRegistries } from './registries.js';

export interface FerryStackProps extends StackProps, Omit<FerryReplicationProps, 'config'> {
  config: FerryConfig;
}

export class FerryStack extends Stack {
  readonly ferry: FerryReplication;

  constructor(scope: Construct, id: string, props: FerryStackProps) {
    super(scope, id, props);
    const { config, ...rest } = props;
    this.ferry = new FerryReplication(this, 'Ferry', { ...pickReplicationProps(rest), config });
    for (const warning of this.ferry.warnings) Annotations.of(this).addWarningV2(`ferry:config:${warning.split(/[\s:]/)[0]}`, warning);

    for (const name of sourceRegistries(config)) {
      new CfnOutput(this, `WebhookUrl${logicalName(name)}`, {
        description: `Webhook URL for registry ${name} (kind ${config.registries[name]?.kind ?? '?'})`,
        // The Function URL ends with "/".
        value: `${this.ferry.webhookUrl.url}webhooks/${name}`,
      });
    }
    new CfnOutput(this, 'WebhookFunctionUrl', { value: this.ferry.webhookUrl.url, description: 'Base URL of the webhook function' });
    new CfnOutput(this, 'AdminFunctionName', { value: this.ferry.adminFunction.functionName, description: 'Invoke with {"action":"jobs"|"job"|"dlq"|"replay"|"sync", ...}' });
    new CfnOutput(this, 'QueueUrl', { value: this.ferry.queue.queueUrl });
    new CfnOutput(this, 'DeadLetterQueueUrl', { value: this.ferry.deadLetterQueue.queueUrl });
    new CfnOutput(this, 'TableName', { value: this.ferry.table.tableName });
  }
}

function pickReplicationProps(props: Omit<FerryStackProps, 'config'>): Omit<FerryReplicationProps, 'config'> {
  const out: Omit<FerryReplicationProps, 'config'> = {};
  if (props.batchSize !== undefined) out.batchSize = props.batchSize;
  if (props.batchConcurrency !== undefined) out.batchConcurrency = props.batchConcurrency;
  if (props.workerTimeout !== undefined) out.workerTimeout = props.workerTimeout;
  if (props.workerMemorySize !== undefined) out.workerMemorySize = props.workerMemorySize;
  if (props.alarmActions !== undefined) out.alarmActions = props.alarmActions;
  if (props.tableRemovalPolicy !== undefined) out.tableRemovalPolicy = props.tableRemovalPolicy;
  if (props.plaintextSecrets !== undefined) out.plaintextSecrets = props.plaintextSecrets;
  if (props.vpc !== undefined) out.vpc = props.vpc;
  if (props.vpcSubnets !== undefined) out.vpcSubnets = props.vpcSubnets;
  if (props.securityGroups !== undefined) out.securityGroups = props.securityGroups;
  if (props.proxy !== undefined) out.proxy = props.proxy;
  if (props.encryptionKey !== undefined) out.encryptionKey = props.encryptionKey;
  if (props.logRetention !== undefined) out.logRetention = props.logRetention;
  if (props.namePrefix !== undefined) out.namePrefix = props.namePrefix;
  if (props.webhookReservedConcurrency !== undefined) out.webhookReservedConcurrency = props.webhookReservedConcurrency;
  if (props.secretsKmsKeys !== undefined) out.secretsKmsKeys = props.secretsKmsKeys;
  return out;
}
