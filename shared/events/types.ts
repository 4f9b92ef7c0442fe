// What every webhook parser produces: registry-neutral push/delete events.

export interface NormalizedEvent {
  /** The sender's event id (or a stable hash of the payload when the sender has none). */
  id: string;
  action: 'push' | 'delete';
  /** Repository path at the source registry, validated against the OCI grammar. */
  repository: string;
  tag?: string;
  digest?: string;
  /**
   * Media type of the pushed manifest when the sender reports it (Distribution, zot, ECR).
   * Policy uses it to tell index children (untagged single-platform manifests) from indexes.
   */
  mediaType?: string;
  /** ISO 8601. */
  occurredAt: string;
}

export interface IgnoredEvent {
  /** Why: "pull", "blob push", "mount", "unknown action foo", "harbor REPLICATION", ... */
  reason: string;
  id?: string;
}

export interface ParseResult {
  events: NormalizedEvent[];
  ignored: IgnoredEvent[];
}

export interface WebhookRequest {
  method: string;
  /** Path without query, e.g. /webhooks/src. */
  path: string;
  query: Record<string, string | undefined>;
  /** Header names lower-cased. */
  headers: Record<string, string | undefined>;
  body: Buffer;
  /** The sender's address as the host saw it (recorded with the delivery). */
  remoteAddress?: string;
}

/** A body that no real sender produces: the webhook answers 400 with this reason. */
export class PayloadError extends Error {
  override readonly name = 'PayloadError';
  constructor(message: string, readonly detail?: string) {
    super(message);
  }
}

/** How the sending registry is set up, where a format depends on it (from the registry's config). */
export interface ParseOptions {
  /**
   * Artifactory: how clients address a Docker repository. `path` (the default, and JFrog
   * Cloud's): `<host>/<repo_key>/<image_name>`; `subdomain` (or port): the repository key
   * is part of the host, so the repository is `<image_name>`.
   */
  artifactoryAccessMethod?: 'path' | 'subdomain';
}

/** A parser for one registry kind. Throws PayloadError for malformed bodies. */
export type EventParser = (request: WebhookRequest, options?: ParseOptions) => ParseResult;
