// Credentials from auth files, read as the containers tools (podman, skopeo) read them:
// `$REGISTRY_AUTH_FILE`, then `$XDG_RUNTIME_DIR/containers/auth.json`, then Docker's
// `$DOCKER_CONFIG/config.json` (else `~/.docker/config.json`); the first file with an entry
// for the registry wins. In each: `credHelpers` per host, then `auths`, then `credsStore`.
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

export function dockerConfigPath(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string {
  return env.DOCKER_CONFIG ? join(env.DOCKER_CONFIG, 'config.json') : join(home, '.docker', 'config.json');
}

/** The auth files to look in, in order. */
export function authFilePaths(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string[] {
  const paths: string[] = [];
  if (env.REGISTRY_AUTH_FILE) paths.push(env.REGISTRY_AUTH_FILE);
  if (env.XDG_RUNTIME_DIR) paths.push(join(env.XDG_RUNTIME_DIR, 'containers', 'auth.json'));
  paths.push(dockerConfigPath(env, home));
  return [...new Set(paths)];
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

/** Credentials found for a registry, and the file they came from. */
export interface FoundCredentials {
  credentials: StaticCredentials;
  path: string;
}

/**
 * Looks the registry up in the auth files (`options.path`: that file only). Undefined when
 * no file has credentials for it; a file that exists but cannot be parsed is an error.
 */
export async function findAuthFileCredentials(registryUrl: string, options: DockerConfigOptions = {}): Promise<FoundCredentials | undefined> {
  const host = registryHost(registryUrl);
  for (const path of options.path ? [options.path] : authFilePaths(options.env)) {
    let config: DockerConfigFile;
    try {
      config = JSON.parse(await readFile(path, 'utf8')) as DockerConfigFile;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new Error(`cannot read auth file ${path}: ${(e as Error).message}`);
    }
    const found = lookupDockerConfig(config, host);
    if (!found) continue;
    if ('credentials' in found) return { credentials: found.credentials, path };
    const output = await (options.runHelper ?? runCredentialHelper)(found.helper, host);
    const credentials = parseHelperOutput(output, found.helper);
    if (credentials) return { credentials, path: `${path} (docker-credential-${found.helper})` };
  }
  return undefined;
}

/** A provider reading the auth files (and running helpers) each time credentials are needed. */
export function dockerConfigCredentials(registryUrl: string, options: DockerConfigOptions = {}): CredentialProvider {
  return async () => (await findAuthFileCredentials(registryUrl, options))?.credentials;
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
