// The OCI distribution grammar for names, tags and digests. Everything that comes from
// a payload or a command line is checked here before it reaches a URL.

const COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const REPOSITORY_RE = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/;
const DIGEST_RE = /^(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

export const MAX_REPOSITORY_LENGTH = 255;

export function isRepository(value: string): boolean {
  return value.length > 0 && value.length <= MAX_REPOSITORY_LENGTH && REPOSITORY_RE.test(value);
}

export function isTag(value: string): boolean {
  return TAG_RE.test(value);
}

export function isDigest(value: string): boolean {
  return DIGEST_RE.test(value);
}

/** Why a repository name is invalid, or undefined when it is valid. */
export function repositoryProblem(value: string): string | undefined {
  if (value.length === 0) return 'repository name is empty';
  if (value.length > MAX_REPOSITORY_LENGTH) return `repository name is ${value.length} characters (max ${MAX_REPOSITORY_LENGTH})`;
  if (!REPOSITORY_RE.test(value)) return `repository name ${JSON.stringify(value.slice(0, 80))} breaks the OCI name grammar`;
  return undefined;
}

export function referenceProblem(value: string): string | undefined {
  if (value.startsWith('sha256:') || value.startsWith('sha512:')) {
    return isDigest(value) ? undefined : `digest ${JSON.stringify(value.slice(0, 80))} is not a valid sha256/sha512 digest`;
  }
  if (value.length > 128) return `tag is ${value.length} characters (max 128)`;
  return isTag(value) ? undefined : `tag ${JSON.stringify(value.slice(0, 80))} breaks the OCI tag grammar`;
}

/** host[:port]/repo[:tag][@digest] as typed on a command line; docker:// accepted. */
export interface ImageReference {
  host: string;
  repository: string;
  tag?: string;
  digest?: string;
}

export class ReferenceSyntaxError extends Error {
  override readonly name = 'ReferenceSyntaxError';
}

/** Where Docker Hub's registry API is served (`docker.io` is its name in references). */
export const DOCKER_HUB_HOST = 'registry-1.docker.io';
const DOCKER_HUB_NAMES = new Set(['docker.io', 'index.docker.io', DOCKER_HUB_HOST]);

/**
 * A reference as people type it, with the registry spelled out, as docker and skopeo read
 * it: a first component without `.` or `:` that is not `localhost` (and is lower case) is a
 * Docker Hub namespace, not a host; Docker Hub names without a namespace are `library/`'s.
 * `alpine:3.19` -> `registry-1.docker.io/library/alpine:3.19`; `docker.io/x/y` ->
 * `registry-1.docker.io/x/y`; `127.0.0.1:5000/x` unchanged.
 */
export function normalizeDockerReference(input: string): string {
  const raw = input.startsWith('docker://') ? input.slice('docker://'.length) : input;
  const slash = raw.indexOf('/');
  const first = slash < 0 ? '' : raw.slice(0, slash);
  const isHost = slash >= 0 && (/[.:]/.test(first) || first === 'localhost' || first !== first.toLowerCase());
  const host = isHost ? first : 'docker.io';
  const path = isHost ? raw.slice(slash + 1) : raw;
  if (!DOCKER_HUB_NAMES.has(host.toLowerCase())) return raw;
  return `${DOCKER_HUB_HOST}/${path.includes('/') ? path : `library/${path}`}`;
}

export function parseImageReference(input: string): ImageReference {
  if (input === '' || input === 'docker://') throw new ReferenceSyntaxError(`invalid image reference ${JSON.stringify(input)}: expected [host[:port]/]repository[:tag|@digest]`);
  const raw = normalizeDockerReference(input);
  const slash = raw.indexOf('/');
  if (slash <= 0) throw new ReferenceSyntaxError(`invalid image reference ${JSON.stringify(input)}: expected [host[:port]/]repository[:tag|@digest]`);
  const host = raw.slice(0, slash);
  if (!/^[A-Za-z0-9.-]+(?::[0-9]{1,5})?$/.test(host) && !/^\[[0-9a-fA-F:]+\](?::[0-9]{1,5})?$/.test(host)) {
    throw new ReferenceSyntaxError(`invalid image reference ${JSON.stringify(input)}: bad registry host ${JSON.stringify(host)}`);
  }
  let rest = raw.slice(slash + 1);
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) throw new ReferenceSyntaxError(`invalid image reference ${JSON.stringify(input)}: bad digest ${JSON.stringify(digest)}`);
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon >= 0) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!isTag(tag)) throw new ReferenceSyntaxError(`invalid image reference ${JSON.stringify(input)}: bad tag ${JSON.stringify(tag)}`);
  }
  const problem = repositoryProblem(rest);
  if (problem) throw new ReferenceSyntaxError(`invalid image reference ${JSON.stringify(input)}: ${problem}`);
  if (!tag && !digest) tag = 'latest';
  return { host, repository: rest, ...(tag ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** The reference a registry API call uses: the digest when both are known. */
export function referenceOf(ref: Pick<ImageReference, 'tag' | 'digest'>): string {
  const value = ref.digest ?? ref.tag;
  if (!value) throw new ReferenceSyntaxError('image reference has neither tag nor digest');
  return value;
}

/** `os/architecture[/variant]`, as a platform is written (`linux/arm64/v8`). */
export const PLATFORM_RE = /^[a-z0-9_.-]+\/[a-z0-9_.-]+(?:\/[a-z0-9_.-]+)?$/;
