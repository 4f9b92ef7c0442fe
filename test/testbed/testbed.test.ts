// The test bed itself is a specification: other suites rely on these registries, images,
// auth servers and fault proxy behaving like the real thing.

import { createServer, type Server } from 'node:http';
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, stopAllRegistries, type DistributionRegistry } from './registries.js';
import {
  buildImage,
  deleteImage,
  digestOf,
  exists,
  inspectRaw,
  pullToOciDir,
  pushImage,
  pushRandomImage,
  pushRandomIndex,
  OCI_INDEX,
  OCI_MANIFEST,
  SkopeoError,
} from './images.js';
import { libtrustKeyId, startTokenServer, type TokenServer } from './token-server.js';
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';
import { generateKeyPairSync } from 'node:crypto';

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    // A zombie still answers signal 0; check its state.
    const stat = execFileSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).trim();
    return stat !== '' && !stat.startsWith('Z');
  } catch {
    return false;
  }
}

afterAll(async () => {
  await stopAllRegistries();
});

describe('plain registry', () => {
  let registry: DistributionRegistry;
  beforeAll(async () => {
    registry = await startRegistry({ name: 'plain' });
  });

  it('serves /v2/ on a loopback port', async () => {
    expect(registry.host).toMatch(/^127\.0\.0\.1:\d+$/);
    const res = await fetch(`${registry.url}/v2/`);
    expect(res.status).toBe(200);
  });

  it('accepts a single-arch image pushed by skopeo with digests preserved', async () => {
    const image = await pushRandomImage(`${registry.host}/team/app:v1`, { layerSizes: [10_000, 300_000] });
    const raw = await inspectRaw(`${registry.host}/team/app:v1`);
    expect(raw.equals(image.bytes)).toBe(true);
    expect(digestOf(raw)).toBe(image.digest);
    expect(JSON.parse(raw.toString()).mediaType).toBe(OCI_MANIFEST);
    const blob = await fetch(`${registry.url}/v2/team/app/blobs/${image.layers[1]!.digest}`);
    const bytes = Buffer.from(await blob.arrayBuffer());
    expect(bytes.length).toBe(image.layers[1]!.size);
    expect(digestOf(bytes)).toBe(image.layers[1]!.digest);
    const pulled = await pullToOciDir(`${registry.host}/team/app:v1`);
    expect(existsSync(`${pulled}/blobs/sha256/${image.digest.slice(7)}`)).toBe(true);
  });

  it('accepts a multi-arch index with both platforms resolvable by digest', async () => {
    const image = await pushRandomIndex(`${registry.host}/team/multi:v1`);
    const raw = await inspectRaw(`${registry.host}/team/multi:v1`);
    expect(digestOf(raw)).toBe(image.digest);
    const index = JSON.parse(raw.toString()) as { mediaType: string; manifests: Array<{ digest: string; platform: { architecture: string } }> };
    expect(index.mediaType).toBe(OCI_INDEX);
    expect(index.manifests.map((m) => m.platform.architecture).sort()).toEqual(['amd64', 'arm64']);
    for (const child of image.children) {
      const childRaw = await inspectRaw(`${registry.host}/team/multi@${child.digest}`);
      expect(digestOf(childRaw)).toBe(child.digest);
    }
    await pullToOciDir(`${registry.host}/team/multi:v1`);
  });

  it('deletes an image and then reports it absent', async () => {
    await pushRandomImage(`${registry.host}/team/gone:v1`);
    expect(await exists(`${registry.host}/team/gone:v1`)).toBe(true);
    await deleteImage(`${registry.host}/team/gone:v1`);
    expect(await exists(`${registry.host}/team/gone:v1`)).toBe(false);
  });

  it('keeps port and storage across a restart', async () => {
    const image = await pushRandomImage(`${registry.host}/team/durable:v1`);
    const { port } = registry;
    const before = registry.pid;
    await registry.restart();
    expect(registry.port).toBe(port);
    expect(registry.pid).not.toBe(before);
    expect(alive(before)).toBe(false);
    expect(digestOf(await inspectRaw(`${registry.host}/team/durable:v1`))).toBe(image.digest);
  });

  it('wipes its storage on demand, keeping the port', async () => {
    await pushRandomImage(`${registry.host}/team/wiped:v1`);
    const { port } = registry;
    await registry.wipe();
    expect(registry.port).toBe(port);
    expect(await exists(`${registry.host}/team/wiped:v1`)).toBe(false);
    expect((await fetch(`${registry.url}/v2/`)).status).toBe(200);
  });

  it('stops its process and removes its storage', async () => {
    const other = await startRegistry({ name: 'short-lived' });
    const pid = other.pid;
    expect(alive(pid)).toBe(true);
    await other.stop();
    expect(alive(pid)).toBe(false);
    expect(existsSync(other.baseDir)).toBe(false);
    await expect(fetch(`${other.url}/v2/`)).rejects.toThrow();
  });
});

describe('basic auth registry (htpasswd)', () => {
  let registry: DistributionRegistry;
  const creds = { username: 'robot', password: 's3cret' };
  beforeAll(async () => {
    registry = await startRegistry({ name: 'basic', htpasswd: { users: { robot: creds.password } } });
  });

  it('challenges anonymous clients with Basic', async () => {
    const res = await fetch(`${registry.url}/v2/`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic /);
  });

  it('accepts skopeo with credentials and rejects it without or with wrong ones', async () => {
    const image = await pushRandomImage(`${registry.host}/secure/app:v1`, { creds });
    expect(digestOf(await inspectRaw(`${registry.host}/secure/app:v1`, creds))).toBe(image.digest);
    await expect(inspectRaw(`${registry.host}/secure/app:v1`)).rejects.toThrow(/unauthorized|authentication required/i);
    await expect(inspectRaw(`${registry.host}/secure/app:v1`, { username: 'robot', password: 'nope' })).rejects.toThrow(SkopeoError);
  });
});

describe('token auth registry', () => {
  let registry: DistributionRegistry;
  let tokens: TokenServer;
  const creds = { username: 'robot', password: 'tok3n' };
  beforeAll(async () => {
    tokens = await startTokenServer({
      users: { robot: creds.password, reader: 'r' },
      // `reader` may only pull.
      grant: (user, entry) => (user === 'reader' ? entry.actions.filter((a) => a === 'pull') : entry.actions),
    });
    registry = await startRegistry({ name: 'token', token: tokens.auth });
  });
  afterAll(async () => {
    await registry?.stop();
    await tokens?.stop();
  });

  it('derives libtrust key ids in the 12 groups of 4 base32 characters Distribution uses', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const id = libtrustKeyId(publicKey);
    expect(id).toMatch(/^([A-Z2-7]{4}:){11}[A-Z2-7]{4}$/);
  });

  it('challenges with a Bearer realm pointing at the token server', async () => {
    const res = await fetch(`${registry.url}/v2/`);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain(`Bearer realm="${tokens.url}/token"`);
  });

  it('lets skopeo push and pull with credentials, with scoped token requests', async () => {
    const image = await pushRandomImage(`${registry.host}/tok/app:v1`, { creds });
    expect(digestOf(await inspectRaw(`${registry.host}/tok/app:v1`, creds))).toBe(image.digest);
    const granted = tokens.requests.filter((r) => r.status === 200 && r.user === 'robot');
    expect(granted.some((r) => r.scopes.some((s) => s.startsWith('repository:tok/app:') && s.includes('push')))).toBe(true);
  });

  it('rejects anonymous and wrong-password clients', async () => {
    await expect(inspectRaw(`${registry.host}/tok/app:v1`)).rejects.toThrow(SkopeoError);
    await expect(inspectRaw(`${registry.host}/tok/app:v1`, { username: 'robot', password: 'bad' })).rejects.toThrow(SkopeoError);
  });

  it('enforces the granted actions: a pull-only user cannot push', async () => {
    const reader = { username: 'reader', password: 'r' };
    expect((await inspectRaw(`${registry.host}/tok/app:v1`, reader)).length).toBeGreaterThan(0);
    await expect(pushRandomImage(`${registry.host}/tok/app:v2`, { creds: reader })).rejects.toThrow(SkopeoError);
  });

  it('rejects tokens that have expired', async () => {
    const token = await tokens.issue('robot', [{ type: 'repository', name: 'tok/app', actions: ['pull'] }], -60);
    const res = await fetch(`${registry.url}/v2/tok/app/manifests/v1`, {
      headers: { authorization: `Bearer ${token}`, accept: OCI_MANIFEST },
    });
    expect(res.status).toBe(401);
    const fresh = await tokens.issue('robot', [{ type: 'repository', name: 'tok/app', actions: ['pull'] }]);
    const ok = await fetch(`${registry.url}/v2/tok/app/manifests/v1`, {
      headers: { authorization: `Bearer ${fresh}`, accept: OCI_MANIFEST },
    });
    expect(ok.status).toBe(200);
  });
});

describe('notifications', () => {
  let receiver: Server;
  let registry: DistributionRegistry;
  const received: Array<{ authorization?: string; events: Array<{ action: string; target: { repository: string; tag?: string; mediaType: string; digest: string } }> }> = [];

  beforeAll(async () => {
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString()) as (typeof received)[number];
        received.push({ events: body.events, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
        res.writeHead(200);
        res.end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const address = receiver.address();
    if (address === null || typeof address === 'string') throw new Error('no receiver port');
    registry = await startRegistry({
      name: 'notifying',
      notifications: [{ url: `http://127.0.0.1:${address.port}/webhooks/src`, headers: { Authorization: ['Bearer hook-secret'] }, ignoredActions: ['pull'] }],
    });
  });
  afterAll(async () => {
    await registry?.stop();
    receiver?.closeAllConnections();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  });

  it('delivers a push event for the tagged manifest with the configured header', async () => {
    const image = await pushRandomImage(`${registry.host}/team/hooked:v7`);
    const deadline = Date.now() + 15_000;
    const find = () =>
      received.flatMap((r) => r.events.map((e) => ({ ...e, authorization: r.authorization }))).find(
        (e) => e.action === 'push' && e.target.repository === 'team/hooked' && e.target.tag === 'v7',
      );
    while (!find() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const event = find();
    expect(event?.target.digest).toBe(image.digest);
    expect(event?.target.mediaType).toBe(OCI_MANIFEST);
    expect(event?.authorization).toBe('Bearer hook-secret');
  });
});

describe('fault proxy', () => {
  let registry: DistributionRegistry;
  let proxy: FaultProxy;
  beforeAll(async () => {
    registry = await startRegistry({ name: 'behind-proxy' });
    proxy = await startFaultProxy(registry.url);
  });
  afterAll(async () => {
    await proxy?.stop();
    await registry?.stop();
  });

  it('passes traffic through, rewriting upload Locations to stay on the proxy', async () => {
    const image = await pushRandomImage(`${proxy.host}/via/proxy:v1`);
    expect(digestOf(await inspectRaw(`${registry.host}/via/proxy:v1`))).toBe(image.digest);
    const start = await fetch(`${proxy.url}/v2/via/proxy/blobs/uploads/`, { method: 'POST' });
    expect(start.status).toBe(202);
    expect(start.headers.get('location')).toMatch(new RegExp(`^${proxy.url}/v2/via/proxy/blobs/uploads/`));
    expect(proxy.count({ method: 'PUT', path: '/manifests/' })).toBe(1);
  });

  it('answers 429 with Retry-After, then 503, the scripted number of times, then forwards', async () => {
    proxy.failWith({ method: 'GET', path: '/v2/' }, 429, 2, 3);
    proxy.failWith({ method: 'GET', path: '/v2/' }, 503, 1);
    const statuses: Array<[number, string | null]> = [];
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${proxy.url}/v2/`);
      statuses.push([res.status, res.headers.get('retry-after')]);
    }
    expect(statuses).toEqual([[429, '3'], [429, '3'], [503, null], [200, null]]);
    expect(proxy.pendingFaults()).toBe(0);
  });

  it('corrupts blob bytes so the digest no longer matches, keeping the length', async () => {
    const image = await pushRandomImage(`${registry.host}/via/corrupt:v1`, { layerSizes: [50_000] });
    const layer = image.layers[0]!;
    proxy.inject({ match: { method: 'GET', path: `/blobs/${layer.digest}` }, fault: { kind: 'corrupt' } });
    const bad = Buffer.from(await (await fetch(`${proxy.url}/v2/via/corrupt/blobs/${layer.digest}`)).arrayBuffer());
    expect(bad.length).toBe(layer.size);
    expect(digestOf(bad)).not.toBe(layer.digest);
    const good = Buffer.from(await (await fetch(`${proxy.url}/v2/via/corrupt/blobs/${layer.digest}`)).arrayBuffer());
    expect(digestOf(good)).toBe(layer.digest);
  });

  it('cuts an upload after K bytes: the registry stores them, then refuses the stale session', async () => {
    const start = await fetch(`${proxy.url}/v2/via/cut/blobs/uploads/`, { method: 'POST' });
    const location = start.headers.get('location')!;
    const uuid = /uploads\/([0-9a-f-]+)/.exec(location)![1]!;
    proxy.inject({ match: { method: 'PATCH' }, fault: { kind: 'cut-upload', afterBytes: 100_000 } });
    await expect(
      fetch(location, { method: 'PATCH', body: Buffer.alloc(1_000_000, 7), headers: { 'content-type': 'application/octet-stream' } }),
    ).rejects.toThrow();
    expect(proxy.requests.find((r) => r.fault === 'cut-upload')).toMatchObject({ status: 0, requestBytes: 100_000 });
    const partial = `${registry.dataDir}/docker/registry/v2/repositories/via/cut/_uploads/${uuid}/data`;
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && !(existsSync(partial) && statSync(partial).size === 100_000)) await new Promise((r) => setTimeout(r, 50));
    expect(statSync(partial).size).toBe(100_000);
    // Distribution 2.8 ties the session state to the offset it issued (0 here), so the
    // session cannot be resumed: clients must start the blob again.
    const stale = await fetch(location);
    expect(stale.status).toBe(404);
    expect(await stale.text()).toContain('BLOB_UPLOAD_INVALID');
  });

  it('resets connections on demand', async () => {
    proxy.inject({ match: { path: '/v2/' }, fault: { kind: 'reset' } });
    await expect(fetch(`${proxy.url}/v2/`)).rejects.toThrow();
    expect((await fetch(`${proxy.url}/v2/`)).status).toBe(200);
  });
});

describe('layout builder', () => {
  it('writes layers whose size and digest match their descriptors', async () => {
    const image = await buildImage({ layerSizes: [1, 512, 70_000] });
    expect(image.layers).toHaveLength(3);
    const { readFile } = await import('node:fs/promises');
    for (const layer of image.layers) {
      const bytes = await readFile(`${image.dir}/blobs/sha256/${layer.digest.slice(7)}`);
      expect(bytes.length).toBe(layer.size);
      expect(digestOf(bytes)).toBe(layer.digest);
    }
    const again = await buildImage({ layerSizes: [1, 512, 70_000] });
    expect(again.digest).not.toBe(image.digest);
    await image.dispose();
    await again.dispose();
    expect(existsSync(image.dir)).toBe(false);
  });

  it('pushes the same layout to two repositories with the same digest', async () => {
    const registry = await startRegistry({ name: 'twice' });
    try {
      const image = await buildImage({ layerSizes: [2048] });
      await pushImage(image, `${registry.host}/a/one:x`);
      await pushImage(image, `${registry.host}/b/two:y`);
      expect(digestOf(await inspectRaw(`${registry.host}/b/two:y`))).toBe(image.digest);
    } finally {
      await registry.stop();
    }
  });
});

describe('cleanup when a test process dies', () => {
  it('kills registries left running when the process exits without stopping them', async () => {
    const { spawnSync } = await import('node:child_process');
    const script = [
      "import { startRegistry } from './test/testbed/registries.ts';",
      'const r = await startRegistry();',
      'console.log(r.pid);',
      "throw new Error('test crashed');",
    ].join('\n');
    const result = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', cwd: process.cwd(), timeout: 30_000 });
    expect(result.status).not.toBe(0);
    const pid = Number(result.stdout.trim());
    expect(pid).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 200));
    expect(alive(pid)).toBe(false);
  });
});
