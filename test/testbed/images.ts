// Builds test images without Docker: random layers written as real tar+gzip blobs, an OCI
// config and manifest (or a multi-platform index), laid out as an OCI image layout that
// skopeo pushes to a registry. Also wraps the skopeo commands tests use as the reference.

import { createHash, randomFillSync } from 'node:crypto';
import { execFile } from 'node:child_process';
import { createWriteStream, rmSync } from 'node:fs';
import { copyFile, mkdtemp, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER_GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface TestImage {
  /** The OCI layout directory (pushable with `oci:DIR`). */
  dir: string;
  /** Digest, media type and exact bytes of the top-level manifest or index. */
  digest: string;
  mediaType: string;
  bytes: Buffer;
  /** Layer descriptors of every platform (deduplicated), config blobs excluded. */
  layers: Descriptor[];
  /** Config blobs (one per platform). */
  configs: Descriptor[];
  /** For an index: the per-platform manifests. */
  children: Descriptor[];
  /** Removes the layout directory. */
  dispose(): Promise<void>;
}

export interface BuildImageOptions {
  /** Uncompressed payload size of each layer in bytes (each layer is a tar with one random file). */
  layerSizes: number[];
  platform?: Platform;
  /** Where to create the layout; default: a new temp dir (removed on process exit). */
  dir?: string;
  /** Label written into the config so two builds with equal sizes still differ. */
  label?: string;
}

export interface BuildIndexOptions {
  platforms: Platform[];
  layerSizes: number[];
  dir?: string;
  label?: string;
}

export interface Credentials {
  username: string;
  password: string;
}

const workRoots = new Set<string>();
let exitHookInstalled = false;

async function newWorkDir(prefix: string): Promise<string> {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const dir of workRoots) rmSync(dir, { recursive: true, force: true });
    });
  }
  const dir = await mkdtemp(join(tmpdir(), prefix));
  workRoots.add(dir);
  return dir;
}

export function digestOf(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

function blobPath(layoutDir: string, digest: string): string {
  return join(layoutDir, 'blobs', 'sha256', digest.slice('sha256:'.length));
}

async function writeBlob(layoutDir: string, bytes: Buffer): Promise<string> {
  const digest = digestOf(bytes);
  await writeFile(blobPath(layoutDir, digest), bytes);
  return digest;
}

function tarHeader(name: string, size: number): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0, 100, 'utf8');
  header.write('0000644\0', 100, 'ascii');
  header.write('0000000\0', 108, 'ascii');
  header.write('0000000\0', 116, 'ascii');
  // 11 octal digits cover sizes up to 8 GiB, plenty for tests.
  header.write(size.toString(8).padStart(11, '0') + '\0', 124, 'ascii');
  header.write('00000000000\0', 136, 'ascii');
  header.write('        ', 148, 'ascii');
  header.write('0', 156, 'ascii');
  header.write('ustar\0', 257, 'ascii');
  header.write('00', 263, 'ascii');
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return header;
}

/** A tar with one file of `size` random bytes, produced lazily so GiB layers stay out of memory. */
function* randomTar(size: number, name: string): Generator<Buffer> {
  yield tarHeader(name, size);
  const chunk = 1 << 20;
  let left = size;
  while (left > 0) {
    const n = Math.min(chunk, left);
    yield randomFillSync(Buffer.allocUnsafe(n));
    left -= n;
  }
  const pad = (512 - (size % 512)) % 512;
  // Two zero blocks end the archive.
  yield Buffer.alloc(pad + 1024);
}

/** Writes one random layer blob; returns its descriptor and diff id (sha256 of the tar). */
async function writeRandomLayer(layoutDir: string, size: number, name: string): Promise<{ descriptor: Descriptor; diffId: string }> {
  const tmp = join(layoutDir, 'blobs', `tmp-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const tarHash = createHash('sha256');
  const gzHash = createHash('sha256');
  let gzSize = 0;
  const source = Readable.from(
    (function* () {
      for (const chunk of randomTar(size, name)) {
        tarHash.update(chunk);
        yield chunk;
      }
    })(),
  );
  // Level 0 (stored blocks): random data does not compress anyway, and GiB layers stay fast.
  const gzip = createGzip({ level: 0 });
  gzip.on('data', (chunk: Buffer) => {
    gzHash.update(chunk);
    gzSize += chunk.length;
  });
  await pipeline(source, gzip, createWriteStream(tmp));
  const digest = `sha256:${gzHash.digest('hex')}`;
  await rename(tmp, blobPath(layoutDir, digest));
  return { descriptor: { mediaType: OCI_LAYER_GZIP, digest, size: gzSize }, diffId: `sha256:${tarHash.digest('hex')}` };
}

async function initLayout(dir: string): Promise<void> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
}

async function writeIndexJson(dir: string, top: Descriptor): Promise<void> {
  const index = {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: [{ ...top, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }],
  };
  await writeFile(join(dir, 'index.json'), JSON.stringify(index));
}

async function writeSingle(
  dir: string,
  layerSizes: number[],
  platform: Platform,
  label: string,
): Promise<{ manifest: Descriptor; bytes: Buffer; layers: Descriptor[]; config: Descriptor }> {
  const layers: Descriptor[] = [];
  const diffIds: string[] = [];
  for (const [i, size] of layerSizes.entries()) {
    const { descriptor, diffId } = await writeRandomLayer(dir, size, `layer-${i}.bin`);
    layers.push(descriptor);
    diffIds.push(diffId);
  }
  const config = Buffer.from(
    JSON.stringify({
      created: new Date().toISOString(),
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      config: { Labels: { 'ferry.test': label } },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: diffIds.map(() => ({ created_by: 'ferry testbed' })),
    }),
  );
  const configDescriptor: Descriptor = { mediaType: OCI_CONFIG, digest: await writeBlob(dir, config), size: config.length };
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: configDescriptor, layers }));
  const manifest: Descriptor = { mediaType: OCI_MANIFEST, digest: await writeBlob(dir, bytes), size: bytes.length };
  return { manifest, bytes, layers, config: configDescriptor };
}

function uniqueLabel(label?: string): string {
  return `${label ?? 'image'}-${Date.now()}-${Math.random().toString(36).slice(2)}`;
}

/** A single-platform OCI image with random layers of the given sizes. */
export async function buildImage(opts: BuildImageOptions): Promise<TestImage> {
  const dir = opts.dir ?? join(await newWorkDir('ferry-image-'), 'layout');
  await initLayout(dir);
  const platform = opts.platform ?? { os: 'linux', architecture: 'amd64' };
  const single = await writeSingle(dir, opts.layerSizes, platform, uniqueLabel(opts.label));
  await writeIndexJson(dir, single.manifest);
  return {
    dir,
    digest: single.manifest.digest,
    mediaType: OCI_MANIFEST,
    bytes: single.bytes,
    layers: single.layers,
    configs: [single.config],
    children: [],
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}

/** A multi-platform OCI index; each platform gets its own random layers. */
export async function buildMultiArchImage(opts: BuildIndexOptions): Promise<TestImage> {
  const dir = opts.dir ?? join(await newWorkDir('ferry-image-'), 'layout');
  await initLayout(dir);
  const label = uniqueLabel(opts.label);
  const children: Descriptor[] = [];
  const layers: Descriptor[] = [];
  const configs: Descriptor[] = [];
  for (const platform of opts.platforms) {
    const single = await writeSingle(dir, opts.layerSizes, platform, label);
    children.push({ ...single.manifest, platform });
    layers.push(...single.layers);
    configs.push(single.config);
  }
  const bytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: children }));
  const digest = await writeBlob(dir, bytes);
  await writeIndexJson(dir, { mediaType: OCI_INDEX, digest, size: bytes.length });
  return { dir, digest, mediaType: OCI_INDEX, bytes, layers, configs, children, dispose: () => rm(dir, { recursive: true, force: true }) };
}

export const DEFAULT_PLATFORMS: Platform[] = [
  { os: 'linux', architecture: 'amd64' },
  { os: 'linux', architecture: 'arm64', variant: 'v8' },
];

export class SkopeoError extends Error {
  override readonly name = 'SkopeoError';
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(message);
  }
}

export interface SkopeoResult {
  stdout: Buffer;
  stderr: string;
}

/** Runs skopeo; rejects with the command's stderr when it fails. */
export function skopeo(args: string[], opts: { timeoutMs?: number } = {}): Promise<SkopeoResult> {
  return new Promise((resolve, reject) => {
    execFile(
      'skopeo',
      args,
      { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024, timeout: opts.timeoutMs ?? 300_000 },
      (error, stdout, stderr) => {
        const err = stderr.toString('utf8');
        if (error) {
          const code = typeof error.code === 'number' ? error.code : null;
          reject(new SkopeoError(`skopeo ${args[0] ?? ''} failed (exit ${code}): ${err.trim()}`, code, err));
          return;
        }
        resolve({ stdout, stderr: err });
      },
    );
  });
}

function credsArgs(flag: string, creds?: Credentials): string[] {
  return creds ? [`${flag}=${creds.username}:${creds.password}`] : [];
}

function dockerRef(ref: string): string {
  return ref.startsWith('docker://') ? ref : `docker://${ref}`;
}

/** Pushes a built image (all platforms) to `host/repo:tag`, keeping every digest. */
export async function pushImage(image: Pick<TestImage, 'dir'>, ref: string, creds?: Credentials): Promise<void> {
  await skopeo([
    'copy',
    '--all',
    '--preserve-digests',
    '--dest-tls-verify=false',
    ...credsArgs('--dest-creds', creds),
    `oci:${image.dir}`,
    dockerRef(ref),
  ]);
}

/**
 * Pushes a built image by digest only (`host/repo@<digest>`, no tag), keeping every digest:
 * the registry notifies a manifest push without a tag, like an index child's.
 */
export async function pushImageByDigest(image: Pick<TestImage, 'dir' | 'digest'>, repository: string, creds?: Credentials): Promise<void> {
  await pushImage(image, `${repository}@${image.digest}`, creds);
}

/** Builds and pushes a single-platform image; returns it (its layout is still on disk). */
export async function pushRandomImage(ref: string, opts: Partial<BuildImageOptions> & { creds?: Credentials } = {}): Promise<TestImage> {
  const image = await buildImage({ layerSizes: opts.layerSizes ?? [4096, 8192], ...(opts.platform ? { platform: opts.platform } : {}), ...(opts.label ? { label: opts.label } : {}) });
  await pushImage(image, ref, opts.creds);
  return image;
}

/** Builds and pushes a multi-platform index (linux/amd64 + linux/arm64 by default). */
export async function pushRandomIndex(
  ref: string,
  opts: Partial<BuildIndexOptions> & { creds?: Credentials } = {},
): Promise<TestImage> {
  const image = await buildMultiArchImage({ platforms: opts.platforms ?? DEFAULT_PLATFORMS, layerSizes: opts.layerSizes ?? [4096, 8192], ...(opts.label ? { label: opts.label } : {}) });
  await pushImage(image, ref, opts.creds);
  return image;
}

/** The manifest bytes exactly as the registry serves them. */
export async function inspectRaw(ref: string, creds?: Credentials): Promise<Buffer> {
  const { stdout } = await skopeo(['inspect', '--raw', '--tls-verify=false', ...credsArgs('--creds', creds), dockerRef(ref)]);
  return stdout;
}

/** Whether the reference resolves at the registry (skopeo reports manifest unknown as an error). */
export async function exists(ref: string, creds?: Credentials): Promise<boolean> {
  try {
    await inspectRaw(ref, creds);
    return true;
  } catch (error) {
    if (error instanceof SkopeoError && /manifest unknown|not found|404/i.test(error.stderr)) return false;
    throw error;
  }
}

/** Pulls every platform into a fresh OCI layout dir, proving the image is complete and its blobs verify. */
export async function pullToOciDir(ref: string, creds?: Credentials): Promise<string> {
  const dir = join(await newWorkDir('ferry-pull-'), 'layout');
  await skopeo(['copy', '--all', '--preserve-digests', '--src-tls-verify=false', ...credsArgs('--src-creds', creds), dockerRef(ref), `oci:${dir}`]);
  return dir;
}

/** Deletes the manifest the reference points at (Distribution deletes by digest; skopeo resolves tags). */
export async function deleteImage(ref: string, creds?: Credentials): Promise<void> {
  await skopeo(['delete', '--tls-verify=false', ...credsArgs('--creds', creds), dockerRef(ref)]);
}

/** Reads a blob from a built layout (to compare with what a registry serves). */
export async function readLayoutBlob(image: Pick<TestImage, 'dir'>, digest: string): Promise<Buffer> {
  return readFile(blobPath(image.dir, digest));
}

/**
 * `image` with `base`'s layers first (images sharing a base, as built FROM one): the base
 * blobs are copied into its layout, its manifest rewritten (its config keeps its own diff_ids:
 * registries do not check them).
 */
export async function withBaseLayers(base: TestImage, image: TestImage): Promise<TestImage> {
  const blob = (dir: string, digest: string) => join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length));
  for (const layer of base.layers) await copyFile(blob(base.dir, layer.digest), blob(image.dir, layer.digest));
  const manifest = JSON.parse((await readFile(blob(image.dir, image.digest))).toString()) as { layers: unknown[] };
  manifest.layers = [...base.layers, ...manifest.layers];
  const bytes = Buffer.from(JSON.stringify(manifest));
  const digest = digestOf(bytes);
  await writeFile(blob(image.dir, digest), bytes);
  await writeFile(join(image.dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: image.mediaType, digest, size: bytes.length }] }));
  return { ...image, digest, bytes, layers: [...base.layers, ...image.layers] };
}
