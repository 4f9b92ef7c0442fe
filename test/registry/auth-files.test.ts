// Which auth file credentials come from, in the containers tools' order: REGISTRY_AUTH_FILE,
// $XDG_RUNTIME_DIR/containers/auth.json, then Docker's config. Files on disk, no network.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authFilePaths, findAuthFileCredentials } from '../../shared/registry/credentials/docker-config.js';

let dir: string;
const auth = (user: string, password: string): { auth: string } => ({ auth: Buffer.from(`${user}:${password}`).toString('base64') });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-auth-files-'));
  await mkdir(join(dir, 'xdg', 'containers'), { recursive: true });
  await mkdir(join(dir, 'docker'), { recursive: true });
  await mkdir(join(dir, 'home', '.docker'), { recursive: true });
  await writeFile(join(dir, 'registry-auth.json'), JSON.stringify({ auths: { 'one.example.com': auth('from-registry-auth-file', 'p1') } }));
  await writeFile(join(dir, 'xdg', 'containers', 'auth.json'), JSON.stringify({ auths: { 'one.example.com': auth('from-xdg', 'p2'), 'two.example.com': auth('from-xdg', 'p2') } }));
  await writeFile(join(dir, 'docker', 'config.json'), JSON.stringify({
    auths: { 'https://index.docker.io/v1/': auth('hub-user', 'hub-pass'), 'three.example.com:5000': auth('from-docker-config', 'p3') },
  }));
  await writeFile(join(dir, 'home', '.docker', 'config.json'), JSON.stringify({ auths: { 'three.example.com:5000': auth('from-home', 'p4') } }));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('auth files', () => {
  it('are looked up in the containers tools order', () => {
    const env = { REGISTRY_AUTH_FILE: '/a/auth.json', XDG_RUNTIME_DIR: '/run/user/1000', DOCKER_CONFIG: '/d' };
    expect(authFilePaths(env, '/home/u')).toEqual(['/a/auth.json', '/run/user/1000/containers/auth.json', '/d/config.json']);
    expect(authFilePaths({}, '/home/u')).toEqual(['/home/u/.docker/config.json']);
  });

  it('take the first file with an entry for the registry', async () => {
    const env = { REGISTRY_AUTH_FILE: join(dir, 'registry-auth.json'), XDG_RUNTIME_DIR: join(dir, 'xdg'), DOCKER_CONFIG: join(dir, 'docker') };
    expect(await findAuthFileCredentials('https://one.example.com', { env })).toEqual({
      credentials: { username: 'from-registry-auth-file', password: 'p1' }, path: join(dir, 'registry-auth.json'),
    });
    expect((await findAuthFileCredentials('https://two.example.com', { env }))?.credentials).toEqual({ username: 'from-xdg', password: 'p2' });
    expect((await findAuthFileCredentials('http://three.example.com:5000', { env }))?.credentials).toEqual({ username: 'from-docker-config', password: 'p3' });
    expect(await findAuthFileCredentials('https://four.example.com', { env })).toBeUndefined();
  });

  it('find docker.io keys for Docker Hub references', async () => {
    const env = { DOCKER_CONFIG: join(dir, 'docker') };
    expect((await findAuthFileCredentials('https://registry-1.docker.io', { env }))?.credentials).toEqual({ username: 'hub-user', password: 'hub-pass' });
  });

  it('skip files that do not exist, and name a file that cannot be parsed', async () => {
    const env = { REGISTRY_AUTH_FILE: join(dir, 'missing.json'), DOCKER_CONFIG: join(dir, 'docker') };
    expect((await findAuthFileCredentials('http://three.example.com:5000', { env }))?.credentials).toMatchObject({ username: 'from-docker-config' });
    await writeFile(join(dir, 'broken.json'), '{not json');
    await expect(findAuthFileCredentials('https://one.example.com', { env: { REGISTRY_AUTH_FILE: join(dir, 'broken.json') } })).rejects.toThrow(/cannot read auth file .*broken\.json/);
  });
});
