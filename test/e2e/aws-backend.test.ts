// `ferry serve` on the aws backend (SQS + DynamoDB, here fauxqs + dynalite): the same
// host replicates a push, and the admin CLI reads the jobs from DynamoDB while it runs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from '../../shared/jobs/model.js';
import { startAwsEmulators, type AwsEmulators } from '../aws-emulators/index.js';
import { pushRandomImage } from '../testbed/images.js';
import { arrives, eventually, startScenario, type Scenario } from './scenario.js';

describe('ferry serve with backend: aws', () => {
  let aws: AwsEmulators;
  let s: Scenario;

  beforeAll(async () => {
    aws = await startAwsEmulators();
    s = await startScenario({
      policies: [{ name: 'cloud', source: 'src', repositories: ['team/**'], destinations: [{ registry: 'dst' }] }],
      config: { backend: 'aws', aws: { region: aws.region, createMissing: true, table: 'ferry-e2e-jobs' } },
      env: aws.env,
    });
  });
  afterAll(async () => {
    await s?.stop();
    await aws?.stop();
  });

  it('replicates a push and lists the job from DynamoDB through the CLI', async () => {
    const image = await pushRandomImage(`${s.src.host}/team/cloud:v1`);
    await arrives(`${s.dst.host}/team/cloud:v1`, image.bytes);
    const job = await eventually('the succeeded job', async () => {
      const { jobs } = await s.cliJson<{ jobs: Job[] }>(['jobs', '--repository', 'team/cloud']);
      return jobs.find((j) => j.status === 'succeeded');
    });
    expect(job).toMatchObject({ policy: 'cloud', source: { registry: 'src', repository: 'team/cloud', reference: 'v1' } });
    const health = await fetch(`${s.ferry.url}/healthz`);
    expect(health.status).toBe(200);
  });
});
