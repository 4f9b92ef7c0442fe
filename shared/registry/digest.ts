// sha256/sha512 content digests, computed while bytes stream past.
import { createHash, type Hash } from 'node:crypto';
import { DigestMismatchError, type RegistryErrorContext } from './errors.js';
import type { BodyTap } from './transport.js';

export type DigestAlgorithm = 'sha256' | 'sha512';

export function digestAlgorithm(digest: string): DigestAlgorithm {
  const algorithm = digest.slice(0, digest.indexOf(':'));
  if (algorithm !== 'sha256' && algorithm !== 'sha512') throw new Error(`unsupported digest algorithm in ${JSON.stringify(digest)}`);
  return algorithm;
}

export function computeDigest(bytes: Buffer, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

type Where = Pick<RegistryErrorContext, 'registry' | 'repository'>;

/** Incremental hashing with the expected digest and size; `check()` throws DigestMismatchError. */
export class DigestVerifier {
  private readonly hash: Hash;
  private received = 0;
  private result: string | undefined;

  constructor(readonly expected: string, readonly expectedSize: number | undefined, private readonly where: Where, state?: { hash: Hash; received: number }) {
    this.hash = state ? state.hash : createHash(digestAlgorithm(expected));
    this.received = state?.received ?? 0;
  }

  /** An independent copy of the state so far: a chunk that must be resent rewinds to it. */
  copy(): DigestVerifier {
    if (this.result !== undefined) throw new Error('DigestVerifier: copy after check');
    return new DigestVerifier(this.expected, this.expectedSize, this.where, { hash: this.hash.copy(), received: this.received });
  }

  get bytes(): number {
    return this.received;
  }

  update(chunk: Buffer): void {
    this.received += chunk.length;
    if (this.expectedSize !== undefined && this.received > this.expectedSize) throw this.mismatch(`more than the expected ${this.expectedSize} bytes`);
    if (this.result !== undefined) throw new Error('DigestVerifier: update after check');
    this.hash.update(chunk);
  }

  check(): void {
    if (this.expectedSize !== undefined && this.received !== this.expectedSize) {
      throw this.mismatch(`${this.received} bytes instead of ${this.expectedSize}`);
    }
    this.result ??= `${digestAlgorithm(this.expected)}:${this.hash.digest('hex')}`;
    const actual = this.result;
    if (actual !== this.expected) throw this.mismatch(`content hashes to ${actual}`);
  }

  private mismatch(detail: string): DigestMismatchError {
    return new DigestMismatchError(`blob ${this.expected} from ${this.where.registry}/${this.where.repository ?? '?'} failed verification: ${detail}`, {
      ...this.where, reference: this.expected, code: 'DIGEST_MISMATCH',
    });
  }
}

/**
 * Hashes an upload's body as it is sent. The digest is checked as the last expected byte
 * arrives, before that chunk leaves: on a mismatch the request is aborted one chunk short,
 * so a request with a known Content-Length never completes with bytes that fail the check.
 */
export function verifyingTap(verifier: DigestVerifier, onBytes?: (bytes: number) => void): BodyTap {
  return {
    chunk(bytes) {
      verifier.update(bytes);
      if (verifier.expectedSize !== undefined && verifier.bytes === verifier.expectedSize) verifier.check();
      onBytes?.(bytes.length);
    },
    end() {
      verifier.check();
    },
  };
}
