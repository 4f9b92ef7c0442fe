// Local stand-ins for SQS (fauxqs) and DynamoDB (dynalite), started in-process on free
// loopback ports. Tests of the AWS adapters and the Lambda end-to-end tests share these.
import type { AddressInfo } from 'node:net';
import dynalite from 'dynalite';
import { startFauxqs } from 'fauxqs';

export interface AwsEmulators {
  /** Endpoint for SQSClient (pass it explicitly: fauxqs queue URLs use a *.localhost host). */
  sqsEndpoint: string;
  dynamoEndpoint: string;
  region: string;
  /**
   * Environment for code that configures its SDK clients from the environment (the
   * Lambda handlers): endpoints, region and the fake credentials.
   */
  env: Record<'AWS_ENDPOINT_URL_SQS' | 'AWS_ENDPOINT_URL_DYNAMODB' | 'AWS_REGION' | 'AWS_ACCESS_KEY_ID' | 'AWS_SECRET_ACCESS_KEY', string>;
  /** Stops both emulators and drops their in-memory state. Safe to call twice. */
  stop(): Promise<void>;
}

/** The emulators accept any credentials; these keep the SDK from searching for real ones. */
export const emulatorCredentials = { accessKeyId: 'ferry-test', secretAccessKey: 'ferry-test' } as const;

export async function startAwsEmulators(options: { region?: string } = {}): Promise<AwsEmulators> {
  const region = options.region ?? 'us-east-1';
  const sqs = await startFauxqs({ port: 0, logger: false, defaultRegion: region });
  // Tables become ACTIVE at once so setup code does not sit in waiters.
  const dynamo = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  try {
    await new Promise<void>((resolve, reject) => {
      dynamo.once('error', reject);
      dynamo.listen(0, '127.0.0.1', () => {
        dynamo.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await sqs.stop();
    throw err;
  }
  const { port } = dynamo.address() as AddressInfo;

  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      // SDK clients keep sockets alive; without closing them server.close() waits for them.
      dynamo.closeAllConnections();
      const closing = new Promise<void>((resolve) => dynamo.close(() => resolve()));
      await Promise.all([closing, sqs.stop()]);
    })();
    return stopped;
  };

  const sqsEndpoint = sqs.address;
  const dynamoEndpoint = `http://127.0.0.1:${port}`;
  const env = {
    AWS_ENDPOINT_URL_SQS: sqsEndpoint,
    AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint,
    AWS_REGION: region,
    AWS_ACCESS_KEY_ID: emulatorCredentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: emulatorCredentials.secretAccessKey,
  };
  return { sqsEndpoint, dynamoEndpoint, region, env, stop };
}
