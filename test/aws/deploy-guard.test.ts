// The CDK app as the cdk CLI runs it (`npx tsx infra/aws/app.ts`, context and output
// directory passed through CDK_CONTEXT_JSON and CDK_OUTDIR, as `cdk synth`/`cdk deploy` do):
// `npm run deploy` sets the ferry:deploy context and must refuse the example config, and
// a plaintext secret in a real config fails the synth instead of deploying a broken stack.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const TSX = join(ROOT, 'node_modules', '.bin', 'tsx');
const APP = join(ROOT, 'infra', 'aws', 'app.ts');
let dir: string;

interface Run { code: number; stderr: string; templates: string[] }

/** Runs the CDK app in `dir` (no ferry.yaml there unless a test writes one). */
function app(options: { deploy?: boolean; env?: Record<string, string> }): Promise<Run> {
  const outdir = mkdtempSync(join(dir, 'out-'));
  const context = options.deploy ? { 'ferry:deploy': 'true' } : {};
  return new Promise((done) => {
    execFile(TSX, [APP], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', HOME: dir, CDK_OUTDIR: outdir, CDK_CONTEXT_JSON: JSON.stringify(context), ...options.env },
      timeout: 120_000,
    }, (error, _stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      done({ code, stderr, templates: existsSync(outdir) ? readdirSync(outdir).filter((f) => f.endsWith('.template.json')) : [] });
    });
  });
}

const CLEAN = `
registries:
  src: { url: "https://src.example.com", webhook: { secretArn: "arn:aws:secretsmanager:eu-west-1:111122223333:secret:src-hook" } }
  dst: { url: "https://dst.example.com", auth: { secretArn: "arn:aws:secretsmanager:eu-west-1:111122223333:secret:dst-creds" } }
policies:
  - { name: p, source: src, destinations: [{ registry: dst }] }
`;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ferry-deploy-guard-'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('npm run synth / deploy: which config, and what is refused', () => {
  it('deploy without a ferry.yaml refuses (exit 2) and writes no template', async () => {
    const r = await app({ deploy: true });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/ferry deploy: refusing to deploy the example config .*ferry\.example\.yaml.*create ferry\.yaml/);
    expect(r.templates).toEqual([]);
  }, 120_000);

  it('deploy naming the example config explicitly is refused as well', async () => {
    const r = await app({ deploy: true, env: { FERRY_CONFIG: join(ROOT, 'ferry.example.yaml') } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/refusing to deploy the example config/);
  }, 120_000);

  it('synth without a ferry.yaml uses the example and says so on stderr', async () => {
    const r = await app({});
    expect(r.stderr).toMatch(/ferry synth: synthesising the example config .*ferry\.example\.yaml/);
    expect(r.code).toBe(0);
    expect(r.templates).toEqual(['ferry.template.json']);
  }, 120_000);

  it('a plaintext secret in a real config fails synth and deploy, naming the file and each secret', async () => {
    const path = join(dir, 'plain.yaml');
    writeFileSync(path, CLEAN.replace('auth: { secretArn: "arn:aws:secretsmanager:eu-west-1:111122223333:secret:dst-creds" }', 'auth: { username: u, password: "${env:DST_PASSWORD}" }'));
    const r = await app({ deploy: true, env: { FERRY_CONFIG: path, DST_PASSWORD: 'hunter2' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`ferry synth: ${path}: secrets the stack cannot deploy`);
    expect(r.stderr).toMatch(/registries\.dst\.auth: plaintext credentials are never deployed/);
    expect(r.templates).toEqual([]);
  }, 120_000);

  it('a real config with secrets by ARN deploys (synthesises under the deploy context)', async () => {
    writeFileSync(join(dir, 'ferry.yaml'), CLEAN);
    try {
      const r = await app({ deploy: true });
      expect(r.stderr).not.toMatch(/example/);
      expect(r.code).toBe(0);
      expect(r.templates).toEqual(['ferry.template.json']);
    } finally {
      rmSync(join(dir, 'ferry.yaml'));
    }
  }, 120_000);
});
