// `ferry copy SRC DST`: one-off copy of an image (every platform of an index) between two
// registries, like `skopeo copy --all` but with ferry's engine: blobs the destination
// already has are skipped, blobs in another repository of the destination are mounted.

import type { Command } from 'commander';
import type { ImageReference } from '../../../shared/oci/grammar.js';
import type { Credentials } from '../../../shared/registry/credentials/types.js';
import type { RegistryClient } from '../../../shared/registry/client.js';
import type { CopyProgress, CopyResult } from '../../../shared/replicate/copy.js';
import { RegistryError, TLS_TRUST_HINT } from '../../../shared/registry/errors.js';
import { CliError, EXIT_FAILURE, EXIT_USAGE, printJson, runAction } from '../cli/output.js';

export interface CopyCommandOptions {
  allPlatforms: boolean;
  /** --platform os/arch[/variant], repeatable: only these platforms of an index. */
  platform: string[];
  /** false with --no-referrers. */
  referrers: boolean;
  srcCreds?: string;
  destCreds?: string;
  insecure: boolean;
  srcTlsVerify: boolean;
  destTlsVerify: boolean;
  srcCertDir?: string;
  destCertDir?: string;
  json: boolean;
  blobConcurrency: string;
}

/** The stable `--json` shape (docs/contract.md, "CLI"). */
export interface CopyJson {
  digest: string;
  mediaType: string;
  manifests: number;
  blobs: { copied: number; skipped: number; mounted: number };
  bytes: number;
  seconds: number;
}

/** `U:P` -> credentials; the password may itself contain ':'. */
export function parseCreds(value: string, flag: string): Credentials {
  const colon = value.indexOf(':');
  if (colon <= 0) throw new CliError(`${flag} must be USERNAME:PASSWORD`, EXIT_USAGE);
  return { username: value.slice(0, colon), password: value.slice(colon + 1) };
}

/** skopeo's boolean flag values: `--x` alone, `--x=true`, `--x=false`. */
export function parseBool(value: string | undefined): boolean {
  if (value === undefined || value === 'true') return true;
  if (value === 'false') return false;
  throw new CliError(`expected true or false, got ${JSON.stringify(value)}`, EXIT_USAGE);
}

export function register(program: Command): void {
  program
    .command('copy')
    .description('Copy an image (every platform of a multi-arch index) from one registry to another.')
    .argument('<src>', 'source image: host[:port]/repository[:tag|@digest] (docker:// prefix accepted)')
    .argument('<dst>', 'destination image: host[:port]/repository[:tag|@digest]')
    .option('--all-platforms', 'copy every platform of an index (the default)', true)
    .option('--platform <os/arch[/variant]>', 'copy only this platform of an index (repeatable): one -> its manifest under the tag; several -> a new index of those', (value: string, all: string[]) => [...all, value], [] as string[])
    .option('--no-referrers', 'do not copy the signatures, SBOMs and attestations that refer to the image (OCI referrers, cosign sha256-*.sig/.att/.sbom tags)')
    .option('--src-creds <user:password>', 'credentials for the source (default: from the auth files, see README)')
    .option('--dest-creds <user:password>', 'credentials for the destination (default: from the auth files, see README)')
    .option('--src-tls-verify [bool]', 'verify the source registry\'s certificate; false: https without verification, else plain http', parseBool, true)
    .option('--dest-tls-verify [bool]', 'verify the destination registry\'s certificate; false: https without verification, else plain http', parseBool, true)
    .option('--src-cert-dir <dir>', 'trust the CA certificates (*.crt) in this directory for the source')
    .option('--dest-cert-dir <dir>', 'trust the CA certificates (*.crt) in this directory for the destination')
    .option('--insecure', 'shorthand for --src-tls-verify=false --dest-tls-verify=false', false)
    // 6, like skopeo's parallel copies: measured on a 2-core machine copying 5 x 20 MiB layers
    // (bench/README.md), all blobs at once finish ~10% sooner than 4, which leaves the last
    // layer to start late and run alone. A job in `ferry serve` shares the machine with other
    // jobs, so worker.blobConcurrency stays 4.
    .option('--blob-concurrency <n>', 'blobs transferred at once', '6')
    .option('--json', 'print one JSON object with the result', false)
    .action(runAction((src: string, dst: string, options: CopyCommandOptions) => copyCommand(src, dst, options)));
}

async function copyCommand(srcInput: string, dstInput: string, options: CopyCommandOptions): Promise<void> {
  // Loaded here, not at the top, so `ferry --help` and other commands never pay for them;
  // all at once, so their files load in parallel.
  const [{ parseImageReference, referenceOf, PLATFORM_RE }, { RegistryClient }, { authFilePaths, findAuthFileCredentials }, { copyImage }, { loadCertDir }, { followReferrers }, { PlatformSelectionError, selectedManifest }] = await Promise.all([
    import('../../../shared/oci/grammar.js'),
    import('../../../shared/registry/client.js'),
    import('../../../shared/registry/credentials/docker-config.js'),
    import('../../../shared/replicate/copy.js'),
    import('../../../shared/registry/tls-trust.js'),
    import('../../../shared/replicate/referrer-jobs.js'),
    import('../../../shared/replicate/platforms.js'),
  ]);
  const src = parseImageReference(srcInput);
  const dst = parseImageReference(dstInput);
  const concurrency = Number(options.blobConcurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    throw new CliError(`--blob-concurrency must be an integer from 1 to 64, got ${JSON.stringify(options.blobConcurrency)}`, EXIT_USAGE);
  }
  const srcCreds = options.srcCreds !== undefined ? parseCreds(options.srcCreds, '--src-creds') : undefined;
  const destCreds = options.destCreds !== undefined ? parseCreds(options.destCreds, '--dest-creds') : undefined;

  // Credentials are looked up once, before any request, so a refusal can say where they came from.
  const credentialsFor = async (ref: ImageReference, flagged: Credentials | undefined, flag: string): Promise<CredentialSource | undefined> => {
    if (flagged) return { credentials: flagged, from: `--${flag}-creds` };
    const found = await findAuthFileCredentials(`https://${ref.host}`);
    return found && { credentials: found.credentials, from: found.path };
  };
  const [srcFound, dstFound] = await Promise.all([credentialsFor(src, srcCreds, 'src'), credentialsFor(dst, destCreds, 'dest')]);
  const sides = {
    source: { ref: src, creds: srcFound, verify: options.srcTlsVerify && !options.insecure, certDir: options.srcCertDir, flag: 'src' },
    destination: { ref: dst, creds: dstFound, verify: options.destTlsVerify && !options.insecure, certDir: options.destCertDir, flag: 'dest' },
  };
  const authHint = (error: unknown): unknown => explainRefusal(error, [sides.source, sides.destination], authFilePaths());
  const clientFor = (side: typeof sides.source, scheme: 'https' | 'http'): RegistryClient => {
    const url = `${scheme}://${side.ref.host}`;
    const ca = side.certDir !== undefined ? loadCertDir(side.certDir, `--${side.flag}-cert-dir`) : undefined;
    return new RegistryClient({
      name: side.ref.host,
      url,
      ...(scheme === 'https' ? { tls: { verify: side.verify, ...(ca ? { ca } : {}) } } : { insecure: true }),
      ...(side.creds ? { credentials: side.creds.credentials } : {}),
      // One image at a time: allow the blob fan-out plus manifest and HEAD requests.
      limits: { concurrency: concurrency + 4 },
    });
  };
  /**
   * HTTPS, as skopeo does it: with verification off, a registry that does not speak TLS is
   * tried again over plain http. Resolves to a client whose ping succeeded.
   */
  const connect = async (side: typeof sides.source): Promise<RegistryClient> => {
    const client = clientFor(side, 'https');
    try {
      await client.ping();
      return client;
    } catch (error) {
      if (side.verify || !speaksPlainHttp(error)) {
        await client.close();
        throw withTlsHint(error, side.flag);
      }
      await client.close();
    }
    const plain = clientFor(side, 'http');
    try {
      await plain.ping();
    } catch (error) {
      await plain.close();
      throw error;
    }
    return plain;
  };
  const [sourceConnected, destinationConnected] = await Promise.allSettled([connect(sides.source), connect(sides.destination)]);
  // The source's problem is reported first.
  if (sourceConnected.status === 'rejected') {
    if (destinationConnected.status === 'fulfilled') await destinationConnected.value.close();
    throw authHint(sourceConnected.reason);
  }
  const source = sourceConnected.value;
  if (destinationConnected.status === 'rejected') {
    await source.close();
    throw authHint(destinationConnected.reason);
  }
  const destination = destinationConnected.value;
  const progress = !options.json && process.stderr.isTTY ? await progressBar() : undefined;
  const started = process.hrtime.bigint();
  let result: CopyResult;
  try {
    const reference = referenceOf(src);
    const manifest = await source.getManifest(src.repository, reference);
    if (!manifest) {
      throw new CliError(`${src.host}/${src.repository}${src.digest ? '@' : ':'}${reference}: manifest unknown at the source`, EXIT_FAILURE);
    }
    for (const p of options.platform) {
      if (!PLATFORM_RE.test(p)) throw new CliError(`--platform must be os/architecture[/variant], e.g. linux/amd64 or linux/arm64/v8, got ${JSON.stringify(p)}`, EXIT_USAGE);
    }
    let selected = manifest;
    try {
      selected = await selectedManifest({ client: source, repository: src.repository }, manifest, options.platform, reference);
    } catch (err) {
      if (err instanceof PlatformSelectionError) throw new CliError(err.message, EXIT_FAILURE);
      throw err;
    }
    if (dst.digest && dst.digest !== selected.digest) {
      throw new CliError(`destination names ${dst.digest} but the source image is ${selected.digest}`, EXIT_USAGE);
    }
    const copy = (from: string, tag: string | undefined, resolved?: typeof manifest) => copyImage({
      source: { client: source, repository: src.repository, reference: from, ...(resolved ? { resolved } : {}) },
      destination: { client: destination, repository: dst.repository, ...(tag !== undefined ? { tag } : {}) },
      blobConcurrency: concurrency,
      override: true,
      ...(progress ? { onProgress: progress.update } : {}),
    });
    result = await copy(selected === manifest ? reference : selected.digest, dst.digest ? undefined : (dst.tag ?? 'latest'), selected);
    if (options.referrers) {
      // Signatures, SBOMs and attestations of the image (and of each child of an index) follow it.
      const outcome = await followReferrers({
        source: { client: source, repository: src.repository },
        destination: { client: destination, repository: dst.repository },
        policy: { referrers: true, digestTags: true },
        copy: (from, tag) => copy(from, tag),
      }, selected, result);
      const { skipped: _, ...rest } = result;
      result = outcome.action === 'skipped' ? { ...result, stats: outcome.stats } : { ...rest, stats: outcome.stats };
    }
  } catch (error) {
    throw authHint(error);
  } finally {
    progress?.stop();
    await Promise.allSettled([source.close(), destination.close()]);
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const summary: CopyJson = {
    digest: result.digest,
    mediaType: result.mediaType,
    manifests: result.stats.manifests,
    blobs: { ...result.stats.blobs },
    bytes: result.stats.bytes,
    seconds: Math.round(seconds * 1000) / 1000,
  };
  if (options.json) {
    printJson(summary);
    return;
  }
  const target = `${dst.host}/${dst.repository}${dst.digest ? `@${dst.digest}` : `:${dst.tag ?? 'latest'}`}`;
  if (result.skipped) {
    process.stdout.write(`${target} is already at ${result.digest}; nothing to copy\n`);
    return;
  }
  const { copied, skipped, mounted } = summary.blobs;
  process.stdout.write(
    `copied ${result.digest} to ${target}: ${summary.manifests} manifest(s), blobs ${copied} copied / ${skipped} skipped / ${mounted} mounted, ${formatBytes(summary.bytes)} in ${seconds.toFixed(1)} s\n`,
  );
}

interface CredentialSource {
  credentials: Credentials;
  /** The flag or auth file they came from. */
  from: string;
}

/**
 * A registry refusing access (401) says which of two things to fix: credentials were
 * missing (where ferry looked) or they were wrong (which user, from where).
 */
function explainRefusal(error: unknown, sides: ReadonlyArray<{ ref: ImageReference; creds: CredentialSource | undefined; flag: string }>, searched: string[]): unknown {
  if (!(error instanceof RegistryError) || !(error.status === 401 || error.code === 'UNAUTHORIZED')) return error;
  const side = sides.find((s) => s.ref.host === error.registry);
  if (!side) return error;
  const host = side.ref.host;
  if (!side.creds) {
    return new CliError(
      `registry ${host} requires credentials and none were found (looked for ${host} in ${searched.join(', ')}): pass --${side.flag}-creds USER:PASSWORD or log in with \`docker login ${host}\` / \`podman login ${host}\``,
      EXIT_FAILURE,
    );
  }
  const user = 'username' in side.creds.credentials ? `user ${JSON.stringify(side.creds.credentials.username)}` : 'the token';
  return new CliError(
    `registry ${host} refused the credentials of ${user} from ${side.creds.from} (${error.message}): check them, or log in again with \`docker login ${host}\``,
    EXIT_FAILURE,
  );
}

const PLAIN_HTTP = /SSL|EPROTO|wrong version number|packet length too long/i;

/** The TLS handshake failed the way it does against a server speaking plain http. */
function speaksPlainHttp(error: unknown): boolean {
  return error instanceof Error && PLAIN_HTTP.test(error.message) && !/TLS certificate not trusted/.test(error.message);
}

/** A TLS failure (untrusted certificate, plain-http registry) says which flag fixes it. */
function withTlsHint(error: unknown, flag: string): unknown {
  if (error instanceof RegistryError && error.code === 'TLS_CERTIFICATE') {
    return new CliError(error.message.replace(TLS_TRUST_HINT, `pass --${flag}-cert-dir DIR holding its CA as *.crt (or set NODE_EXTRA_CA_CERTS), or --${flag}-tls-verify=false`), EXIT_FAILURE);
  }
  if (!speaksPlainHttp(error)) return error;
  const first = (error as Error).message.split('\n')[0]!.replace(/\s*\(ERR_SSL[\s\S]*$/, '');
  return new CliError(`${first}: TLS handshake failed (if the registry serves plain http, pass --${flag}-tls-verify=false or --insecure)`, EXIT_FAILURE);
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

async function progressBar(): Promise<{ update: (p: CopyProgress) => void; stop: () => void }> {
  // cli-progress is CommonJS: bundled, its exports sit on `default`; under tsx, on the namespace.
  const mod = (await import('cli-progress')) as typeof import('cli-progress') & { default?: typeof import('cli-progress') };
  const { SingleBar, Presets } = mod.default ?? mod;
  const bar = new SingleBar(
    { format: 'copying [{bar}] {value}/{total} blobs | {transferred}', stream: process.stderr, hideCursor: true, clearOnComplete: true },
    Presets.shades_classic,
  );
  let started = false;
  return {
    update(p) {
      if (!started) {
        bar.start(Math.max(p.blobs.total, 1), p.blobs.done, { transferred: formatBytes(p.bytes) });
        started = true;
      }
      bar.setTotal(Math.max(p.blobs.total, 1));
      bar.update(p.blobs.done, { transferred: formatBytes(p.bytes) });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
