import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfigText, resolveConfigPath } from '../../shared/config/load.js';

const FILE = 'ferry.yaml';

const BASE = `
registries:
  src:
    url: http://127.0.0.1:5000
    insecure: true
    webhook: { secret: hook }
  dr:
    url: https://dr.example.com
policies:
  - name: mirror
    source: src
    destinations:
      - registry: dr
`;

/** The problems a config text produces, as the lines of the ConfigError message. */
function problems(text: string, env: Record<string, string | undefined> = {}): string[] {
  try {
    parseConfigText(text, FILE, env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message.split('\n');
  }
  throw new Error('expected the config to be rejected');
}

describe('a valid config', () => {
  it('loads with the documented defaults', () => {
    const config = parseConfigText(BASE, FILE, {});
    expect(config.backend).toBe('embedded');
    expect(config.dataDir).toBe('.ferry');
    expect(config.registries.src!.kind).toBe('distribution');
    expect(config.registries.dr!.insecure).toBe(false);
    expect(config.registries.dr!.webhook.allowUnauthenticated).toBe(false);
    expect(config.registries.src!.limits).toEqual({ concurrency: 8 });
    expect(config.policies[0]).toMatchObject({ repositories: ['**'], tags: ['*'], deletes: false, override: true, destinations: [{ registry: 'dr', repository: '{repository}' }] });
    expect(config.worker).toEqual({
      concurrency: 3, blobConcurrency: 6, maxAttempts: 5, retryDelay: 5000, bandwidth: 0, visibilityTimeout: 30_000, shutdownGrace: 30_000,
      jobTimeout: 3_600_000, minTransferRate: 1024, minTransferRateWindow: 60_000, maxIndexDepth: 4, maxManifests: 1000,
    });
    expect(config.retention).toBe(30 * 24 * 3600 * 1000);
  });

  it('turns durations into milliseconds and bandwidth into bytes per second', () => {
    const config = parseConfigText(`${BASE}worker: { retryDelay: 250ms, visibilityTimeout: 2m, shutdownGrace: 3, bandwidth: 50MiB/s }\nretention: 1h\n`, FILE, {});
    expect(config.worker.retryDelay).toBe(250);
    expect(config.worker.visibilityTimeout).toBe(120_000);
    expect(config.worker.shutdownGrace).toBe(3000);
    expect(config.worker.bandwidth).toBe(50 * 1024 * 1024);
    const limits = parseConfigText(`${BASE}worker: { jobTimeout: 2h, minTransferRate: 10KiB/s, minTransferRateWindow: 30s }\n`, FILE, {});
    expect(limits.worker).toMatchObject({ jobTimeout: 7_200_000, minTransferRate: 10 * 1024, minTransferRateWindow: 30_000 });
    expect(parseConfigText(`${BASE}worker: { minTransferRate: 0 }\n`, FILE, {}).worker.minTransferRate).toBe(0);
    expect(config.retention).toBe(3_600_000);
  });

  it('interpolates ${env:NAME} anywhere in a string, and only in values', () => {
    const text = BASE.replace('url: http://127.0.0.1:5000', 'url: "http://${env:SRC_HOST}:5000"').replace('secret: hook', 'secret: "${env:HOOK}"');
    const config = parseConfigText(text, FILE, { SRC_HOST: 'registry.local', HOOK: 's3cr#t: "x"' });
    expect(config.registries.src!.url).toBe('http://registry.local:5000');
    // YAML syntax inside a secret cannot change the document: interpolation runs after parsing.
    expect(config.registries.src!.webhook.secret).toBe('s3cr#t: "x"');
  });

  it('supports YAML anchors and merge keys for shared settings', () => {
    const config = parseConfigText(`
registries:
  src: &local { url: "http://127.0.0.1:5000", insecure: true, limits: { concurrency: 2 } }
  dr: { <<: *local, url: "http://127.0.0.1:5001" }
`, FILE, {});
    expect(config.registries.dr).toMatchObject({ url: 'http://127.0.0.1:5001', insecure: true, limits: { concurrency: 2 } });
  });

  it('leaves text that is not an env reference alone', () => {
    const config = parseConfigText(BASE.replace('secret: hook', 'secret: "${HOME}-$x"'), FILE, {});
    expect(config.registries.src!.webhook.secret).toBe('${HOME}-$x');
  });
});

describe('config errors read "<file>: <path>: <problem>"', () => {
  it('YAML syntax errors give line and column', () => {
    const lines = problems('registries:\n  src: [http://x\npolicies: []\n');
    expect(lines[0]).toMatch(/^ferry\.yaml: line \d+, column \d+: /);
  });

  it('duplicate YAML keys are errors, not silently overwritten', () => {
    const lines = problems(`${BASE}backend: embedded\nbackend: aws\n`);
    expect(lines.some((l) => /^ferry\.yaml: line \d+, column 1: Map keys must be unique/.test(l))).toBe(true);
  });

  it('an unknown key names the key and suggests the near one', () => {
    const lines = problems(BASE.replace('insecure: true', 'insecur: true'));
    expect(lines).toContain(`ferry.yaml: registries.src.insecur: unknown key (did you mean insecure?) (line 5)`);
  });

  it('an unknown key with no near match lists what is allowed', () => {
    const lines = problems(`${BASE}worker: { speed: 3 }\n`);
    expect(lines[0]).toMatch(/^ferry\.yaml: worker\.speed: unknown key \(allowed: concurrency, blobConcurrency, maxAttempts, retryDelay, bandwidth, visibilityTimeout, shutdownGrace, jobTimeout, minTransferRate, minTransferRateWindow, maxIndexDepth, maxManifests\)/);
  });

  it('a wrong type says what was expected', () => {
    expect(problems(`${BASE}worker: { concurrency: three }\n`)).toEqual(['ferry.yaml: worker.concurrency: expected number, received string (line 14)']);
    expect(problems(BASE.replace('insecure: true', 'insecure: "yes"'))[0]).toBe('ferry.yaml: registries.src.insecure: expected boolean, received string (line 5)');
  });

  it('a missing required field says "required"', () => {
    expect(problems('policies: []\n')).toEqual(['ferry.yaml: registries: required']);
    expect(problems(BASE.replace('      - registry: dr\n', '      - repository: x\n'))).toEqual(['ferry.yaml: policies[0].destinations[0].registry: required (line 13)']);
  });

  it('an empty file is a config without registries', () => {
    expect(problems('')).toEqual(['ferry.yaml: registries: required']);
  });

  it('a missing env variable names the variable and where it is used', () => {
    const lines = problems(BASE.replace('secret: hook', 'secret: "${env:SRC_HOOK_SECRET}"'), { OTHER: 'x' });
    expect(lines).toEqual(['ferry.yaml: registries.src.webhook.secret: environment variable SRC_HOOK_SECRET is not set (referenced as ${env:SRC_HOOK_SECRET}) (line 6)']);
  });

  it('a malformed env reference is an error', () => {
    expect(problems(BASE.replace('secret: hook', 'secret: "${env:1-x}"'))[0]).toMatch(/^ferry\.yaml: registries\.src\.webhook\.secret: invalid reference \$\{env:1-x\}/);
  });

  it('a url with a path or without a scheme is rejected', () => {
    expect(problems(BASE.replace('https://dr.example.com', 'https://dr.example.com/v2'))).toEqual(['ferry.yaml: registries.dr.url: must be scheme://host[:port] with no path (line 8)']);
    expect(problems(BASE.replace('https://dr.example.com', 'dr.example.com'))[0]).toMatch(/^ferry\.yaml: registries\.dr\.url: must be scheme:\/\/host/);
  });

  it('http:// without insecure: true is rejected', () => {
    expect(problems(BASE.replace('https://dr.example.com', 'http://dr.example.com'))).toEqual(['ferry.yaml: registries.dr.url: http:// needs insecure: true (or use https://) (line 8)']);
  });

  it('registry names must be usable in webhook URLs', () => {
    expect(problems(BASE.replace('  dr:\n', '  DR.main:\n').replace('registry: dr', 'registry: DR.main'))[0]).toMatch(/^ferry\.yaml: registries\["DR\.main"\]: invalid name: registry names: lowercase letters/);
  });

  it('duplicate policy names are rejected', () => {
    const text = `${BASE}  - name: mirror\n    source: src\n    destinations: [{ registry: dr }]\n`;
    expect(problems(text)).toEqual(['ferry.yaml: policies[1].name: duplicate policy name "mirror" (line 14)']);
  });

  it('policies must name configured registries, as source and as destination', () => {
    const lines = problems(BASE.replace('source: src', 'source: nowhere').replace('registry: dr', 'registry: elsewhere'));
    expect(lines).toEqual([
      'ferry.yaml: policies[0].source: unknown registry "nowhere" (configured: src, dr) (line 11)',
      'ferry.yaml: policies[0].destinations[0].registry: unknown registry "elsewhere" (line 13)',
    ]);
  });

  it('malformed tag and repository filters are errors at their own line', () => {
    const text = BASE.replace('    source: src\n', '    source: src\n    repositories:\n      - "team/[**"\n    tags:\n      - "v*"\n      - "semver:>=banana"\n      - "!regex:(rc"\n');
    expect(problems(text)).toEqual([
      'ferry.yaml: policies[0].repositories[0]: invalid glob "team/[**": Missing closing: "]" - use "\\]" to match literal characters (line 13)',
      expect.stringMatching(/^ferry\.yaml: policies\[0\]\.tags\[1\]: invalid semver range ">=banana" .* \(line 16\)$/),
      expect.stringMatching(/^ferry\.yaml: policies\[0\]\.tags\[2\]: invalid regex "\(rc": .* \(line 17\)$/),
    ]);
    const ok = parseConfigText(BASE.replace('    source: src\n', '    source: src\n    tags: ["semver:^1.2", "regex:stable|lts", "!*-rc*"]\n'), FILE, {});
    expect(ok.policies[0]!.tags).toEqual(['semver:^1.2', 'regex:stable|lts', '!*-rc*']);
  });

  it('artifactory.accessMethod defaults to path and belongs to kind: artifactory only', () => {
    const jfrog = BASE.replace('    webhook: { secret: hook }\n', '    kind: artifactory\n    artifactory: {}\n    webhook: { secret: hook }\n');
    expect(parseConfigText(jfrog, FILE, {}).registries.src!.artifactory).toEqual({ accessMethod: 'path' });
    expect(problems(jfrog.replace('artifactory: {}', 'artifactory: { accessMethod: domain }'))[0]).toMatch(/^ferry\.yaml: registries\.src\.artifactory\.accessMethod: expected one of "path"\|"subdomain" \(line 7\)$/);
    expect(problems(jfrog.replace('kind: artifactory', 'kind: harbor'))).toEqual(['ferry.yaml: registries.src.artifactory: only for kind: artifactory (this registry is kind: harbor) (line 7)']);
  });

  it('bad durations and bandwidths say what is accepted', () => {
    expect(problems(`${BASE}worker: { retryDelay: 5 days }\n`)).toEqual(['ferry.yaml: worker.retryDelay: invalid duration "5 days" (use e.g. 500ms, 5s, 15m, 1h) (line 14)']);
    expect(problems(`${BASE}worker: { bandwidth: 50 parsecs }\n`)).toEqual(['ferry.yaml: worker.bandwidth: invalid bandwidth "50 parsecs" (use e.g. 0, 50MiB/s, 10MB/s) (line 14)']);
    expect(problems(`${BASE}worker: { retryDelay: true }\n`)).toEqual(['ferry.yaml: worker.retryDelay: expected string or number, received boolean (line 14)']);
  });

  it('numbers out of range name the bound', () => {
    expect(problems(`${BASE}worker: { concurrency: 0 }\n`)).toEqual(['ferry.yaml: worker.concurrency: must be >= 1 (line 14)']);
    expect(problems(BASE.replace('      - registry: dr\n', '      []\n').replace('    destinations:\n', '    destinations:\n'))[0]).toMatch(/^ferry\.yaml: policies\[0\]\.destinations: must have at least 1 item/);
  });

  it('an enum lists its options', () => {
    expect(problems(BASE.replace('insecure: true', 'insecure: true\n    kind: nexus'))[0]).toMatch(/^ferry\.yaml: registries\.src\.kind: expected one of "distribution"\|"harbor"/);
  });

  it('auth must be one of the documented shapes', () => {
    expect(problems(BASE.replace('insecure: true', 'insecure: true\n    auth: { user: robot }'))).toEqual([
      'ferry.yaml: registries.src.auth: auth must be one of { username, password }, { token }, { dockerConfig: true }, { ecr: { region } }, { secretArn } (line 6)',
    ]);
  });

  it('destination templates are checked at load', () => {
    expect(problems(BASE.replace('registry: dr', 'registry: dr\n        repository: "mirror/{repo}"'))).toEqual([
      'ferry.yaml: policies[0].destinations[0].repository: unknown placeholder {repo} (known: {repository}, {namespace}, {name}) (line 14)',
    ]);
    expect(problems(BASE.replace('registry: dr', 'registry: dr\n        repository: "Mirror/{repository}"'))[0]).toMatch(/^ferry\.yaml: policies\[0\]\.destinations\[0\]\.repository: "Mirror\/\{repository\}" renders "team\/app" as an invalid repository name/);
  });

  it('schedules must be valid cron expressions', () => {
    expect(problems(BASE.replace('source: src', 'source: src\n    schedule: "every day"'))[0]).toMatch(/^ferry\.yaml: policies\[0\]\.schedule: invalid cron expression "every day"/);
  });

  it('backend: aws needs an aws section', () => {
    expect(problems(`${BASE}backend: aws\n`)).toEqual(['ferry.yaml: aws: backend: aws needs an aws section']);
  });

  it('reports every problem at once, one per line', () => {
    const lines = problems(`${BASE.replace('insecure: true', 'insecure: 1')}worker: { concurrency: -1, maxAttempts: x }\n`);
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(line).toMatch(/^ferry\.yaml: [^:]+: \S/);
  });
});

describe('config errors, all in one pass', () => {
  it('cross-field checks are reported next to field errors, in document order', () => {
    const lines = problems(`
registries:
  src: { url: "http://x", foo: 1 }
policies:
  - { name: a, source: nope, destinations: [{ registry: zz }], tags: [] }
  - { name: a, source: src, destinations: [{ registry: src }] }
worker: { concurrency: 0 }
`);
    expect(lines).toEqual([
      'ferry.yaml: registries.src.foo: unknown key (allowed: url, insecure, tls, proxy, allowPrivateRedirects, kind, auth, limits, artifactory, ecr, webhook) (line 3)',
      'ferry.yaml: registries.src.url: http:// needs insecure: true (or use https://) (line 3)',
      'ferry.yaml: policies[0].tags: must have at least 1 item (line 5)',
      'ferry.yaml: policies[0].source: unknown registry "nope" (configured: src) (line 5)',
      'ferry.yaml: policies[0].destinations[0].registry: unknown registry "zz" (line 5)',
      'ferry.yaml: policies[1].name: duplicate policy name "a" (line 6)',
      'ferry.yaml: worker.concurrency: must be >= 1 (line 7)',
    ]);
  });
});

describe('loadConfig and resolveConfigPath', () => {
  let dir: string;
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'ferry-config-')); });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  it('reads and validates a file, naming it in errors', async () => {
    const good = join(dir, 'good.yaml');
    await writeFile(good, BASE);
    expect((await loadConfig(good, {})).policies[0]!.name).toBe('mirror');
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, `${BASE}worker: { concurrency: 0 }\n`);
    await expect(loadConfig(bad, {})).rejects.toThrow(`${bad}: worker.concurrency: must be >= 1`);
  });

  it('a missing file is a ConfigError that says how to fix it', async () => {
    const missing = join(dir, 'nope.yaml');
    const err = await loadConfig(missing, {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe(`${missing}: file not found (pass --config PATH or create ferry.yaml; see ferry.example.yaml)`);
  });

  it('uses --config, else FERRY_CONFIG, else ./ferry.yaml', () => {
    expect(resolveConfigPath('conf/x.yaml', { FERRY_CONFIG: 'y.yaml' })).toBe('conf/x.yaml');
    expect(resolveConfigPath(undefined, { FERRY_CONFIG: 'y.yaml' })).toBe('y.yaml');
    expect(resolveConfigPath(undefined, {})).toBe('ferry.yaml');
  });
});
