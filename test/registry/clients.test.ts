// Registry clients built from ferry.yaml: one per registry, credentials per auth kind,
// host-resolved secrets passed in, ECR tokens cached until they near expiry.
import { GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../shared/config/schema.js';
import { createRegistryClients, credentialsFromAuth, UnresolvedCredentialsError } from '../../shared/registry/clients.js';
import { ecrCredentials } from '../../shared/registry/credentials/ecr.js';
import { BandwidthLimiter } from '../../shared/registry/bandwidth.js';
import { pushRandomImage } from '../testbed/images.js';
import { startRegistry, stopAllRegistries, type DistributionRegistry } from '../testbed/registries.js';

let basic: DistributionRegistry;
const creds = { username: 'robot', password: 'cl1ents' };

beforeAll(async () => {
  basic = await startRegistry({ name: 'clients', htpasswd: { users: { robot: creds.password } } });
  await pushRandomImage(`${basic.host}/team/app:v1`, { layerSizes: [1_000], creds });
});

afterAll(async () => {
  await stopAllRegistries();
});

describe('createRegistryClients', () => {
  it('creates a working client per configured registry, with config credentials', async () => {
    const config = configSchema.parse({
      registries: {
        src: { url: basic.url, insecure: true, auth: creds, limits: { requestsPerSecond: 20, concurrency: 2 } },
        other: { url: 'https://registry.example.com', auth: { token: 'static' } },
      },
    });
    const clients = createRegistryClients(config, { throttle: new BandwidthLimiter(0) });
    try {
      expect([...clients.keys()].sort()).toEqual(['other', 'src']);
      expect(clients.get('other')).toMatchObject({ name: 'other', host: 'registry.example.com' });
      const manifest = await clients.get('src')!.getManifest('team/app', 'v1');
      expect(manifest?.digest).toMatch(/^sha256:/);
    } finally {
      await Promise.all([...clients.values()].map((c) => c.close()));
    }
  });

  it('needs secretArn credentials resolved by the host, and uses them when passed in', async () => {
    const config = configSchema.parse({
      registries: { src: { url: basic.url, insecure: true, auth: { secretArn: 'arn:aws:secretsmanager:us-east-1:1:secret:x' } } },
    });
    expect(() => createRegistryClients(config)).toThrow(UnresolvedCredentialsError);
    const clients = createRegistryClients(config, { credentials: { src: creds } });
    try {
      expect(await clients.get('src')!.headManifest('team/app', 'v1')).toBeDefined();
    } finally {
      await clients.get('src')!.close();
    }
  });

  it('maps every auth kind to credentials', () => {
    expect(credentialsFromAuth('r', 'https://r', undefined)).toBeUndefined();
    expect(credentialsFromAuth('r', 'https://r', { username: 'u', password: 'p' })).toEqual({ username: 'u', password: 'p' });
    expect(credentialsFromAuth('r', 'https://r', { token: 't' })).toEqual({ token: 't' });
    expect(typeof credentialsFromAuth('r', 'https://r', { dockerConfig: true })).toBe('function');
    expect(typeof credentialsFromAuth('r', 'https://r', { ecr: { region: 'eu-west-1' } })).toBe('function');
  });
});

describe('ECR credentials', () => {
  it('decodes GetAuthorizationToken and caches it until shortly before expiry', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    const calls: unknown[] = [];
    const client = {
      send: async (command: unknown) => {
        calls.push(command);
        return { authorizationData: [{ authorizationToken: Buffer.from(`AWS:secret-${calls.length}`).toString('base64'), expiresAt: new Date(now + 12 * 3600_000) }] };
      },
    } as unknown as Parameters<typeof ecrCredentials>[0]['client'];
    const provider = ecrCredentials({ region: 'us-east-1', client: client!, now: () => now });
    expect(await provider()).toEqual({ username: 'AWS', password: 'secret-1' });
    expect(await provider()).toEqual({ username: 'AWS', password: 'secret-1' });
    expect(calls).toHaveLength(1);
    expect(calls[0]).toBeInstanceOf(GetAuthorizationTokenCommand);
    now += 12 * 3600_000 - 60_000;
    expect(await provider()).toEqual({ username: 'AWS', password: 'secret-2' });
  });
});
