// Creation of missing ECR destination repositories, checked by the calls it makes. No ECR
// can run here, so this is a small HTTP endpoint written for the purpose that speaks the
// ECR JSON protocol (awsJson1_1, X-Amz-Target) as far as these three operations need; the
// real AWS SDK ECRClient talks to it. Not exercised against a live account.
import { ECRClient } from '@aws-sdk/client-ecr';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ecrBeforeCopy, ecrRepositoryEnsurer, EcrRepositoryError } from '../../functions/lib/ecr-repositories.js';
import { parseConfigText } from '../../shared/config/load.js';
import type { ReplicationTask } from '../../shared/replicate/types.js';

const ACCOUNT = '111122223333';

interface Call { operation: string; body: Record<string, unknown> }

/** Repositories by name; every call, in order. */
const repositories = new Map<string, { policy?: string; scanOnPush: boolean }>();
const calls: Call[] = [];
let failNext: { operation: string; type: string; status: number } | undefined;
let server: Server;
let endpoint: string;

function reply(res: import('node:http').ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
  res.end(JSON.stringify(body));
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      const operation = target.replace('AmazonEC2ContainerRegistry_V20150921.', '');
      const body = JSON.parse(Buffer.concat(chunks).toString() || '{}') as Record<string, unknown>;
      calls.push({ operation, body });
      if (failNext?.operation === operation) {
        const { type, status } = failNext;
        failNext = undefined;
        return reply(res, status, { __type: type, message: `${type} (test endpoint)` });
      }
      const name = String(body.repositoryName ?? (body.repositoryNames as string[] | undefined)?.[0] ?? '');
      const arn = `arn:aws:ecr:eu-west-1:${ACCOUNT}:repository/${name}`;
      switch (operation) {
        case 'DescribeRepositories':
          if (!repositories.has(name)) return reply(res, 400, { __type: 'RepositoryNotFoundException', message: `The repository with name '${name}' does not exist in the registry with id '${ACCOUNT}'` });
          return reply(res, 200, { repositories: [{ repositoryName: name, repositoryArn: arn, registryId: ACCOUNT }] });
        case 'CreateRepository': {
          if (repositories.has(name)) return reply(res, 400, { __type: 'RepositoryAlreadyExistsException', message: 'exists' });
          const scan = (body.imageScanningConfiguration as { scanOnPush?: boolean } | undefined)?.scanOnPush ?? false;
          repositories.set(name, { scanOnPush: scan });
          return reply(res, 200, { repository: { repositoryName: name, repositoryArn: arn, registryId: ACCOUNT, imageScanningConfiguration: { scanOnPush: scan } } });
        }
        case 'SetRepositoryPolicy':
          repositories.get(name)!.policy = String(body.policyText);
          return reply(res, 200, { registryId: ACCOUNT, repositoryName: name, policyText: body.policyText });
        default:
          return reply(res, 400, { __type: 'UnknownOperationException', message: operation });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  repositories.clear();
  calls.length = 0;
  failNext = undefined;
});

function client(): ECRClient {
  return new ECRClient({ region: 'eu-west-1', endpoint, credentials: { accessKeyId: 'test', secretAccessKey: 'test' }, maxAttempts: 1 });
}

const POLICY = JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'pull', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: ['ecr:BatchGetImage'] }] });

describe('ECR repository creation', () => {
  it('a missing repository: describe, create with scan-on-push, set the policy; then remembered', async () => {
    const ensure = ecrRepositoryEnsurer(client(), ACCOUNT, { createRepositories: true, repositoryPolicy: POLICY, scanOnPush: true });
    expect(await ensure('mirror/team/app')).toBe('created');
    expect(calls.map((c) => c.operation)).toEqual(['DescribeRepositories', 'CreateRepository', 'SetRepositoryPolicy']);
    expect(calls[0]!.body).toEqual({ registryId: ACCOUNT, repositoryNames: ['mirror/team/app'] });
    expect(calls[1]!.body).toEqual({ registryId: ACCOUNT, repositoryName: 'mirror/team/app', imageScanningConfiguration: { scanOnPush: true } });
    expect(calls[2]!.body).toEqual({ registryId: ACCOUNT, repositoryName: 'mirror/team/app', policyText: POLICY });
    expect(repositories.get('mirror/team/app')).toEqual({ scanOnPush: true, policy: POLICY });
    expect(await ensure('mirror/team/app')).toBe('created');
    expect(calls).toHaveLength(3);
  });

  it('an existing repository: one describe, nothing created or changed', async () => {
    repositories.set('team/app', { scanOnPush: false });
    const ensure = ecrRepositoryEnsurer(client(), ACCOUNT, { createRepositories: true, scanOnPush: true });
    expect(await ensure('team/app')).toBe('exists');
    expect(calls.map((c) => c.operation)).toEqual(['DescribeRepositories']);
  });

  it('concurrent jobs for one repository share one check; without a policy none is set', async () => {
    const ensure = ecrRepositoryEnsurer(client(), ACCOUNT, { createRepositories: true, scanOnPush: false });
    await Promise.all([ensure('a'), ensure('a'), ensure('a')]);
    expect(calls.map((c) => c.operation)).toEqual(['DescribeRepositories', 'CreateRepository']);
    expect(calls[1]!.body.imageScanningConfiguration).toEqual({ scanOnPush: false });
  });

  it('losing the creation race to another worker counts as existing', async () => {
    const ensure = ecrRepositoryEnsurer(client(), ACCOUNT, { createRepositories: true, repositoryPolicy: POLICY, scanOnPush: false });
    failNext = { operation: 'CreateRepository', type: 'RepositoryAlreadyExistsException', status: 400 };
    expect(await ensure('raced')).toBe('exists');
    expect(calls.map((c) => c.operation)).toEqual(['DescribeRepositories', 'CreateRepository']);
  });

  it('a denied creation fails the job with the operation and repository named, and is asked again next time', async () => {
    const ensure = ecrRepositoryEnsurer(client(), ACCOUNT, { createRepositories: true, scanOnPush: false });
    failNext = { operation: 'CreateRepository', type: 'AccessDeniedException', status: 400 };
    await expect(ensure('denied')).rejects.toThrow(EcrRepositoryError);
    calls.length = 0;
    expect(await ensure('denied')).toBe('created');
    expect(calls.map((c) => c.operation)).toEqual(['DescribeRepositories', 'CreateRepository']);
  });

  it('the worker hook acts only for ECR destinations with createRepositories, with the account from the URL', async () => {
    const config = parseConfigText(`
registries:
  src: { url: "https://src.example.com" }
  ecr: { url: "https://${ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com", auth: { ecr: { region: eu-west-1 } }, ecr: { createRepositories: true } }
  plain: { url: "https://444455556666.dkr.ecr.eu-west-1.amazonaws.com", auth: { ecr: { region: eu-west-1 } } }
policies:
  - { name: p, source: src, destinations: [{ registry: ecr, repository: "mirror/{repository}" }, { registry: plain }] }
`, 'ecr.yaml', {});
    const regions: string[] = [];
    const hook = (await ecrBeforeCopy(config, (region) => { regions.push(region); return client(); }))!;
    const task = (registry: string, repository: string): ReplicationTask => ({
      id: 'j', policy: 'p', source: { registry: 'src', repository: 'team/app', reference: 'v1' }, destination: { registry, repository }, trigger: { kind: 'event', at: new Date().toISOString(), action: 'push' },
    });
    await hook(task('plain', 'team/app'));
    expect(calls).toEqual([]);
    await hook(task('ecr', 'mirror/team/app'));
    expect(regions).toEqual(['eu-west-1']);
    expect(calls.map((c) => [c.operation, c.body.registryId])).toEqual([['DescribeRepositories', ACCOUNT], ['CreateRepository', ACCOUNT]]);
    expect(await ecrBeforeCopy(parseConfigText('registries: { a: { url: "https://a.example.com" } }', 'x.yaml', {}), () => client())).toBeUndefined();
  });
});
