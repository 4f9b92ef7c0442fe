// Authentication against real registries: htpasswd (Basic) and a JWT token server (Bearer),
// as source and destination of a copy, with token caching and refresh on 401.
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '../../shared/registry/client.js';
import { dockerConfigCredentials } from '../../shared/registry/credentials/docker-config.js';
import { RegistryError } from '../../shared/registry/errors.js';
import { copyImage } from '../../shared/replicate/copy.js';
import { MemoryBlobIndex } from '../../shared/replicate/blob-index.js';
import { BlobFlights } from '../../shared/replicate/blob-flights.js';
import { digestOf, inspectRaw, pullToOciDir, pushRandomImage } from '../testbed/images.js';
import { startRegistry, stopAllRegistries, type DistributionRegistry } from '../testbed/registries.js';
import { startTokenServer, type TokenServer } from '../testbed/token-server.js';

const basicCreds = { username: 'robot', password: 'b4sic' };
const tokenCreds = { username: 'robot', password: 'tok3n' };
let basic: DistributionRegistry;
let token: DistributionRegistry;
let tokens: TokenServer;
let denyPushOnce = false;
const clients: RegistryClient[] = [];
let workDir: string;

function client(name: string, registry: DistributionRegistry, credentials?: ConstructorParameters<typeof RegistryClient>[0]['credentials']): RegistryClient {
  const c = new RegistryClient({ name, url: registry.url, insecure: true, ...(credentials ? { credentials } : {}) });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'ferry-auth-test-'));
  tokens = await startTokenServer({
    users: { robot: tokenCreds.password },
    grant: (_user, entry) => {
      if (denyPushOnce && entry.actions.includes('push')) {
        denyPushOnce = false;
        return entry.actions.filter((a) => a === 'pull');
      }
      return entry.actions;
    },
  });
  const started = await Promise.all([
    startRegistry({ name: 'auth-basic', htpasswd: { users: { [basicCreds.username]: basicCreds.password } } }),
    startRegistry({ name: 'auth-token', token: tokens.auth }),
  ]);
  basic = started[0];
  token = started[1];
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await stopAllRegistries();
  await tokens?.stop();
  await rm(workDir, { recursive: true, force: true });
});

describe('copies between authenticated registries', () => {
  it('copies from a basic-auth source to a token-auth destination and back', async () => {
    const image = await pushRandomImage(`${basic.host}/team/app:v1`, { layerSizes: [10_000, 20_000], creds: basicCreds });
    const fromBasic = client('basic', basic, basicCreds);
    const toToken = client('token', token, tokenCreds);
    const there = await copyImage({
      source: { client: fromBasic, repository: 'team/app', reference: 'v1' },
      destination: { client: toToken, repository: 'mirror/app', tag: 'v1' },
      blobConcurrency: 2, override: true, blobs: new BlobFlights(new MemoryBlobIndex()),
    });
    expect(there.digest).toBe(image.digest);
    expect((await inspectRaw(`${token.host}/mirror/app:v1`, tokenCreds)).equals(image.bytes)).toBe(true);
    await pullToOciDir(`${token.host}/mirror/app:v1`, tokenCreds);

    const back = await copyImage({
      source: { client: toToken, repository: 'mirror/app', reference: 'v1' },
      destination: { client: fromBasic, repository: 'back/app', tag: 'v1' },
      blobConcurrency: 2, override: true, blobs: new BlobFlights(new MemoryBlobIndex()),
    });
    expect(back.digest).toBe(image.digest);
    expect(digestOf(await inspectRaw(`${basic.host}/back/app:v1`, basicCreds))).toBe(image.digest);
  });

  it('asks the token server with service and scopes, and reuses a token for the same scopes', async () => {
    await pushRandomImage(`${token.host}/team/cached:v1`, { layerSizes: [1_000], creds: tokenCreds });
    const c = client('token', token, tokenCreds);
    const before = tokens.requests.length;
    for (let i = 0; i < 5; i++) expect(await c.getManifest('team/cached', 'v1')).toBeDefined();
    const made = tokens.requests.slice(before);
    expect(made).toHaveLength(1);
    expect(made[0]).toMatchObject({ user: 'robot', service: tokens.auth.service, scopes: ['repository:team/cached:pull'], status: 200 });
  });

  it('refreshes the token once when the registry answers 401 (insufficient scope) and succeeds', async () => {
    const image = await pushRandomImage(`${token.host}/team/refresh:v1`, { layerSizes: [1_000], creds: tokenCreds });
    const c = client('token', token, tokenCreds);
    const manifest = (await c.getManifest('team/refresh', 'v1'))!;
    denyPushOnce = true;
    const before = tokens.requests.length;
    await c.putManifest('team/refresh', 'v2', manifest);
    expect(tokens.requests.length - before).toBe(2);
    expect(denyPushOnce).toBe(false);
    expect(digestOf(await inspectRaw(`${token.host}/team/refresh:v2`, tokenCreds))).toBe(image.digest);
  });
});

describe('auth failures carry where they happened', () => {
  it('basic auth with a wrong password: 401 with registry, repository and reference', async () => {
    await pushRandomImage(`${basic.host}/team/locked:v1`, { layerSizes: [1_000], creds: basicCreds });
    const error = await client('basic', basic, { username: 'robot', password: 'wrong' }).getManifest('team/locked', 'v1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryError);
    expect(error).toMatchObject({ registry: 'basic', repository: 'team/locked', reference: 'v1', status: 401, code: 'UNAUTHORIZED' });
    expect((error as RegistryError).transient).toBe(false);
  });

  it('token auth with a wrong password: the token request fails with 401', async () => {
    const error = await client('token', token, { username: 'robot', password: 'wrong' }).getManifest('team/app', 'v1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryError);
    expect(error).toMatchObject({ registry: 'token', status: 401 });
    expect((error as Error).message).toMatch(/token request/);
  });

  it('anonymous access to a protected registry is refused with 401', async () => {
    const error = await client('basic', basic).getManifest('team/locked', 'v1').catch((e: unknown) => e);
    expect(error).toMatchObject({ registry: 'basic', status: 401 });
  });
});

describe('credential sources', () => {
  it('calls a provider lazily and once while its credentials work', async () => {
    let calls = 0;
    const c = client('basic', basic, async () => {
      calls += 1;
      return basicCreds;
    });
    expect(calls).toBe(0);
    await pushRandomImage(`${basic.host}/team/provided:v1`, { layerSizes: [1_000], creds: basicCreds });
    await c.getManifest('team/provided', 'v1');
    await c.getManifest('team/provided', 'v1');
    expect(calls).toBe(1);
  });

  it('reads a docker config.json: auths by host with a base64 auth entry', async () => {
    const dir = join(workDir, 'auths');
    const configPath = join(dir, 'config.json');
    await rmAndWrite(configPath, JSON.stringify({
      auths: { [`https://${basic.host}/v1/`]: { auth: Buffer.from(`${basicCreds.username}:${basicCreds.password}`).toString('base64') } },
    }));
    await pushRandomImage(`${basic.host}/team/dockercfg:v1`, { layerSizes: [1_000], creds: basicCreds });
    const c = client('basic', basic, dockerConfigCredentials(basic.url, { path: configPath }));
    expect(await c.getManifest('team/dockercfg', 'v1')).toBeDefined();
  });

  it('runs a credential helper named in credHelpers, passing the server on stdin', async () => {
    const binDir = join(workDir, 'bin');
    const helper = join(binDir, 'docker-credential-ferrytest');
    const seen = join(workDir, 'helper-stdin');
    await rmAndWrite(helper, [
      '#!/bin/sh',
      `cat > '${seen}'`,
      `printf '%s' '{"ServerURL":"${basic.host}","Username":"${basicCreds.username}","Secret":"${basicCreds.password}"}'`,
      '',
    ].join('\n'));
    await chmod(helper, 0o755);
    const configPath = join(workDir, 'helpers', 'config.json');
    await rmAndWrite(configPath, JSON.stringify({ credHelpers: { [basic.host]: 'ferrytest' } }));
    const previousPath = process.env.PATH;
    process.env.PATH = `${binDir}:${previousPath ?? ''}`;
    try {
      const c = client('basic', basic, dockerConfigCredentials(basic.url, { path: configPath }));
      await pushRandomImage(`${basic.host}/team/helper:v1`, { layerSizes: [1_000], creds: basicCreds });
      expect(await c.getManifest('team/helper', 'v1')).toBeDefined();
      expect(await readFile(seen, 'utf8')).toBe(basic.host);
    } finally {
      process.env.PATH = previousPath;
    }
  });
});

async function rmAndWrite(path: string, content: string): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, content);
}
