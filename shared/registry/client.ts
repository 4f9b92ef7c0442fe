// One registry, as the copy engine and reconcile see it: manifests, blobs, listings, behind
// auth, limits and the process-wide bandwidth throttle.
import type { Readable } from 'node:stream';
import type { AuthEvent } from './auth.js';
import type { BandwidthLimiter } from './bandwidth.js';
import {
  cancelUpload, headBlob, mountBlob, startUpload, openBlob, uploadBlob, uploadStatus, type BlobDescriptor, type MountResult, type UploadCheckpoint, type UploadOptions,
} from './blobs.js';
import type { Credentials } from './credentials/types.js';
import { listCatalog, listTags, type ListOptions } from './listing.js';
import { deleteManifest, getManifest, headManifest, putManifest, type Manifest, type ManifestHead } from './manifests.js';
import { RateController, type RateEvent, type RateStore } from './rate-control.js';
import type { Descriptor } from './media-types.js';
import { referrersApi } from './referrers.js';
import { TagListings } from './tag-listings.js';
import { RegistrySession } from './session.js';
import { DEFAULT_RATE_FLOOR, type RateFloor } from './transfer-rate.js';
import type { RegistryRequestObserver, RetryOptions } from './transport.js';
import type { ResolveAll } from './guarded-lookup.js';

export interface RegistryClientOptions {
  /** Config name of the registry (carried by every error). */
  name: string;
  /** scheme://host[:port] */
  url: string;
  insecure?: boolean;
  /** Extra trusted CA certificates (PEM) and whether certificates are verified at all. */
  tls?: { ca?: readonly string[]; verify?: boolean };
  /** Forward proxy URL, or false for none; undefined: HTTP_PROXY/HTTPS_PROXY/NO_PROXY decide. */
  proxy?: string | false;
  credentials?: Credentials;
  limits?: { requestsPerSecond?: number; concurrency?: number; minRemaining?: number };
  /** Where the back-off state and request schedule are shared with other processes (AWS workers). */
  rateStore?: RateStore;
  /** Auth facts worth a log line (a token realm on another host), once each. */
  onAuthEvent?: (event: AuthEvent) => void;
  /** Back-offs, recoveries and quota pauses of this registry, for logs and metrics. */
  onRateEvent?: (event: RateEvent) => void;
  /** Shared bytes/s limiter for every blob this client streams. */
  throttle?: BandwidthLimiter;
  timeouts?: { connectMs?: number; headersMs?: number; bodyMs?: number };
  retry?: RetryOptions;
  /** Blob downloads slower than this over its window are cut (default 1 KiB/s over 60 s; bytesPerSecond 0 = off). */
  rateFloor?: RateFloor;
  /** Follow blob redirects to private and loopback addresses even when the registry is not on one. */
  allowPrivateRedirects?: boolean;
  /** Name resolution for redirect targets (default dns.lookup); tests answer for made-up names. */
  resolveAll?: ResolveAll;
  /** Chunked upload settings (threshold and chunk size in bytes). */
  upload?: { chunkThreshold?: number; chunkSize?: number; maxResumes?: number };
  /** Sees every request's status and latency (registry health). */
  observer?: RegistryRequestObserver;
}

/** How long a registry that has no referrers API is taken at its word. */
const REFERRERS_API_RECHECK_MS = 10 * 60_000;

export class RegistryClient {
  readonly name: string;
  readonly url: string;
  /** `host[:port]`, as in image references. */
  readonly host: string;
  private readonly session: RegistrySession;
  /** This registry's request pacing (adaptive, see rate-control.ts). */
  readonly rate: RateController;
  private readonly throttle: BandwidthLimiter | undefined;
  private readonly rateFloor: RateFloor;
  private readonly upload: NonNullable<RegistryClientOptions['upload']>;
  private readonly listings = new TagListings();
  private referrersApiMissingUntil = 0;

  constructor(options: RegistryClientOptions) {
    this.name = options.name;
    this.url = options.url.replace(/\/+$/, '');
    this.host = new URL(this.url).host;
    this.rate = new RateController({
      registry: this.url,
      ...(options.limits?.requestsPerSecond ? { ceiling: options.limits.requestsPerSecond } : {}),
      ...(options.limits?.minRemaining !== undefined ? { minRemaining: options.limits.minRemaining } : {}),
      ...(options.rateStore ? { store: options.rateStore } : {}),
      ...(options.onRateEvent ? { onEvent: options.onRateEvent } : {}),
    });
    this.session = new RegistrySession({
      rateControl: this.rate,
      registry: options.name,
      url: this.url,
      ...(options.insecure !== undefined ? { insecure: options.insecure } : {}),
      ...(options.tls !== undefined ? { tls: options.tls } : {}),
      ...(options.proxy !== undefined ? { proxy: options.proxy } : {}),
      ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
      ...(options.limits?.requestsPerSecond !== undefined ? { requestsPerSecond: options.limits.requestsPerSecond } : {}),
      ...(options.limits?.concurrency !== undefined ? { concurrency: options.limits.concurrency } : {}),
      ...(options.timeouts ? { timeouts: options.timeouts } : {}),
      ...(options.retry ? { retry: options.retry } : {}),
      ...(options.allowPrivateRedirects !== undefined ? { allowPrivateRedirects: options.allowPrivateRedirects } : {}),
      ...(options.resolveAll ? { resolveAll: options.resolveAll } : {}),
      ...(options.observer ? { observer: options.observer } : {}),
      ...(options.onAuthEvent ? { onAuthEvent: options.onAuthEvent } : {}),
    });
    this.throttle = options.throttle;
    this.rateFloor = options.rateFloor ?? DEFAULT_RATE_FLOOR;
    this.upload = options.upload ?? {};
  }

  /** `GET /v2/`: checks reachability and learns the auth scheme. */
  async ping(signal?: AbortSignal): Promise<void> {
    await this.session.auth.ping(signal);
  }

  /** The manifest bytes, their digest and media type; undefined when the registry answers 404. */
  getManifest(repository: string, reference: string, signal?: AbortSignal): Promise<Manifest | undefined> {
    return getManifest(this.session, repository, reference, signal);
  }

  headManifest(repository: string, reference: string, signal?: AbortSignal): Promise<ManifestHead | undefined> {
    return headManifest(this.session, repository, reference, signal);
  }

  /** Pushes the bytes unchanged under a tag or their digest; returns the digest. */
  putManifest(repository: string, reference: string, manifest: { bytes: Buffer; mediaType: string }, signal?: AbortSignal): Promise<string> {
    return putManifest(this.session, repository, reference, manifest, signal);
  }

  /** OCI 1.1 referrers of a digest; undefined when the registry has no referrers API (404). */
  async referrers(repository: string, digest: string, options: { artifactType?: string; signal?: AbortSignal } = {}): Promise<Descriptor[] | undefined> {
    // A registry without the API (a 404 that is not an OCI error) is not asked again for a while.
    if (performance.now() < this.referrersApiMissingUntil) return undefined;
    const answer = await referrersApi(this.session, repository, digest, options);
    if (answer === 'no-api') {
      this.referrersApiMissingUntil = performance.now() + REFERRERS_API_RECHECK_MS;
      return undefined;
    }
    return answer;
  }

  /** true = deleted, false = was not there. */
  deleteManifest(repository: string, reference: string, signal?: AbortSignal): Promise<boolean> {
    return deleteManifest(this.session, repository, reference, signal);
  }

  headBlob(repository: string, digest: string, signal?: AbortSignal): Promise<{ size: number | undefined } | undefined> {
    return headBlob(this.session, repository, digest, signal);
  }

  /** Streams a blob (throttled by the shared limiter), from byte `offset` on when given; with `expectedSize` (the manifest's), never past it. */
  openBlob(repository: string, digest: string, signal?: AbortSignal, offset?: number, expectedSize?: number): Promise<{ stream: Readable; size: number | undefined }> {
    return openBlob(this.session, repository, digest, {
      ...(expectedSize !== undefined ? { expectedSize } : {}),
      ...(signal ? { signal } : {}), ...(this.throttle ? { throttle: this.throttle } : {}), ...(offset ? { offset } : {}), rateFloor: this.rateFloor,
    });
  }

  mountBlob(repository: string, digest: string, from: string, signal?: AbortSignal): Promise<MountResult> {
    return mountBlob(this.session, repository, digest, from, signal);
  }

  /** Opens an upload session; its Location is what `uploadBlob({ location })` continues. */
  startUpload(repository: string, signal?: AbortSignal): Promise<string> {
    return startUpload(this.session, repository, signal);
  }

  /** How many bytes an upload session holds (its Range); 404 BLOB_UPLOAD_UNKNOWN when the registry dropped it. */
  uploadStatus(repository: string, digest: string, location: string, signal?: AbortSignal): Promise<UploadCheckpoint> {
    return uploadStatus(this.session, repository, digest, location, signal);
  }

  /** Abandons an upload session (best effort). */
  cancelUpload(repository: string, location: string): Promise<void> {
    return cancelUpload(this.session, repository, location);
  }

  /** Uploads exactly `blob.size` bytes from `source`, verifying `blob.digest` on the way. */
  uploadBlob(repository: string, blob: BlobDescriptor, source: Readable, options: UploadOptions = {}): Promise<void> {
    return uploadBlob(this.session, repository, blob, source, { ...this.upload, ...options });
  }

  /** Tags of a repository; a listing read to its end is remembered for `recentTags`. */
  tags(repository: string, options?: ListOptions): AsyncIterable<string> {
    const listing = listTags(this.session, repository, options);
    const remember = (tags: ReadonlySet<string>): void => this.listings.remember(repository, tags);
    return (async function* () {
      const seen = new Set<string>();
      for await (const tag of listing) {
        seen.add(tag);
        yield tag;
      }
      remember(seen);
    })();
  }

  /** The tags of this repository from a complete listing read in the last `maxAgeMs`, if any. */
  recentTags(repository: string, maxAgeMs: number): ReadonlySet<string> | undefined {
    return this.listings.recent(repository, maxAgeMs);
  }

  catalog(options?: ListOptions): AsyncIterable<string> {
    return listCatalog(this.session, options);
  }

  /** Closes pooled connections. */
  close(): Promise<void> {
    return this.session.close();
  }
}
