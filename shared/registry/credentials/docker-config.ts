// Credentials from a Docker config file (`$DOCKER_CONFIG/config.json`, else
// `~/.docker/config.json`): `credHelpers` per host, then `credsStore`, then `auths`.
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { CredentialProvider, StaticCredentials } from './types.js';

interface DockerConfigFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string; registrytoken?: string }>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

export interface DockerConfigOptions {
  /** Path of config.json; default from DOCKER_CONFIG or the home directory. */
  path?: string;
  env?: NodeJS.ProcessEnv;
  /** Runs `docker-credential-<helper> get`; injectable for hosts without the helper binary. */
  runHelper?: (helper: string, serverUrl: string) => Promise<string>;
}

export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_CONFIG ? join(env.DOCKER_CONFIG, 'config.json') : join(homedir(), '.docker', 'config.json');
}

/** `https://host/v1/`, `http://host`, `host` -> `host` (with port), the key Docker matches on. */
export function normalizeAuthKey(key: string): string {
  let value = key.trim().replace(/^[a-z]+:\/\//i, '');
  const slash = value.indexOf('/');
  if (slash >= 0) value = value.slice(0, slash);
  return value.toLowerCase();
}

/** Host part of a registry URL: `https://r.example.com:5000` -> `r.example.com:5000`. */
export function registryHost(url: string): string {
  return normalizeAuthKey(url);
}

/** Pure lookup in a parsed config: which helper to run, or inline credentials. */
export function lookupDockerConfig(config: DockerConfigFile, host: string): { helper: string } | { credentials: StaticCredentials } | undefined {
  const wanted = normalizeAuthKey(host);
  const dockerHubAliases = ['docker.io', 'index.docker.io', 'registry-1.docker.io'];
  const matches = (key: string): boolean => {
    const k = normalizeAuthKey(key);
    return k === wanted || (dockerHubAliases.includes(k) && dockerHubAliases.includes(wanted));
  };
  for (const [key, helper] of Object.entries(config.credHelpers ?? {})) {
    if (matches(key) && helper) return { helper };
  }
  for (const [key, entry] of Object.entries(config.auths ?? {})) {
    if (!matches(key)) continue;
    if (entry.registrytoken) return { credentials: { token: entry.registrytoken } };
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) return { credentials: { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) } };
    }
    if (entry.username !== undefined && entry.password !== undefined) return { credentials: { username: entry.username, password: entry.password } };
    if (entry.identitytoken) return { credentials: { identityToken: entry.identitytoken } };
  }
  if (config.credsStore) return { helper: config.credsStore };
  return undefined;
}

/** A provider reading the config (and running helpers) each time credentials are needed. */
export function dockerConfigCredentials(registryUrl: string, options: DockerConfigOptions = {}): CredentialProvider {
  const host = registryHost(registryUrl);
  return async () => {
    const path = options.path ?? dockerConfigPath(options.env);
    let config: DockerConfigFile;
    try {
      config = JSON.parse(await readFile(path, 'utf8')) as DockerConfigFile;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new Error(`cannot read docker config ${path}: ${(e as Error).message}`);
    }
    const found = lookupDockerConfig(config, host);
    if (!found) return undefined;
    if ('credentials' in found) return found.credentials;
    const serverUrl = host;
    const output = await (options.runHelper ?? runCredentialHelper)(found.helper, serverUrl);
    return parseHelperOutput(output, found.helper);
  };
}

export function parseHelperOutput(output: string, helper: string): StaticCredentials | undefined {
  let json: { Username?: unknown; Secret?: unknown };
  try {
    json = JSON.parse(output) as typeof json;
  } catch {
    throw new Error(`docker-credential-${helper} printed something that is not JSON`);
  }
  if (typeof json.Secret !== 'string' || json.Secret === '') return undefined;
  const username = typeof json.Username === 'string' ? json.Username : '';
  // Helpers report identity (refresh) tokens with the username "<token>".
  if (username === '<token>') return { identityToken: json.Secret };
  return { username, password: json.Secret };
}

export async function runCredentialHelper(helper: string, serverUrl: string): Promise<string> {
  if (!/^[A-Za-z0-9_.-]+$/.test(helper)) throw new Error(`invalid credential helper name ${JSON.stringify(helper)}`);
  // Loaded when a helper is configured: most CLI runs never start a process.
  const { spawn } = await import('node:child_process');
  return new Promise((resolve, reject) => {
    const child = spawn(`docker-credential-${helper}`, ['get'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run docker-credential-${helper}: ${e.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(stdout);
      // "credentials not found" is an exit 1 with that text: treat as anonymous.
      else if (/credentials not found/i.test(stdout + stderr)) resolve('{}');
      else reject(new Error(`docker-credential-${helper} get exited with ${code}: ${(stderr || stdout).trim().slice(0, 200)}`));
    });
    child.stdin.end(serverUrl);
  });
}
