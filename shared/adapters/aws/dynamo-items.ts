// Job <-> DynamoDB item mapping and the list cursor. Pure: no I/O.
import { createHash } from 'node:crypto';
import type { Job } from '../../jobs/model.js';
import { InvalidCursorError } from '../../jobs/ports.js';
import { INDEXES, PARTITION_KEY, TIME_SORT_KEY } from './table-schema.js';

/** Marks a job item written from a coalescing pointer's snapshot by another creator. */
export const MATERIALIZED_ATTRIBUTE = 'gsiMaterialized';

const INTERNAL_ATTRIBUTES = new Set<string>([
  PARTITION_KEY,
  TIME_SORT_KEY,
  MATERIALIZED_ATTRIBUTE,
  ...Object.values(INDEXES).map((i) => i.partitionKey),
]);

/** DynamoDB caps partition keys at 2048 bytes; job keys are far below, but never fail on one. */
function keyPart(key: string): string {
  return Buffer.byteLength(key, 'utf8') <= 1024 ? key : `sha256:${createHash('sha256').update(key).digest('hex')}`;
}

export const jobPk = (id: string): string => `JOB#${id}`;
export const pointerPk = (key: string): string => `QUEUED#${keyPart(key)}`;
export const leasePk = (key: string): string => `LEASE#${keyPart(key)}`;
export const ratePk = (registry: string): string => `RATE#${keyPart(registry)}`;
export const blobPk = (registry: string, digest: string): string => `BLOB#${keyPart(`${registry}#${digest}`)}`;

export const timeSortKey = (createdAt: string, id: string): string => `${createdAt}#${id}`;
export const statusPartition = (status: string): string => `STATUS#${status}`;
export const policyPartition = (policy: string): string => `POLICY#${policy}`;
export const repositoryPartition = (repository: string): string => `REPO#${repository}`;
export const ALL_PARTITION = 'JOBS';

/** The index attributes a job item carries, derived from the job's fields. */
export function indexAttributes(job: Pick<Job, 'id' | 'status' | 'policy' | 'source' | 'destination' | 'createdAt'>): Record<string, string> {
  return {
    [INDEXES.byStatus.partitionKey]: statusPartition(job.status),
    [INDEXES.byPolicy.partitionKey]: policyPartition(job.policy),
    [INDEXES.bySourceRepository.partitionKey]: repositoryPartition(job.source.repository),
    [INDEXES.byDestinationRepository.partitionKey]: repositoryPartition(job.destination.repository),
    [INDEXES.byTime.partitionKey]: ALL_PARTITION,
    [TIME_SORT_KEY]: timeSortKey(job.createdAt, job.id),
  };
}

export function jobToItem(job: Job): Record<string, unknown> {
  return { ...job, [PARTITION_KEY]: jobPk(job.id), ...indexAttributes(job) };
}

/** The job without the table's own attributes. */
export function itemToJob(item: Record<string, unknown>): Job {
  const job: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(item)) {
    if (!INTERNAL_ATTRIBUTES.has(name)) job[name] = value;
  }
  return job as unknown as Job;
}

/** Sanity check for snapshots read back from pointer items. */
export function looksLikeJob(value: unknown): value is Job {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.id === 'string' && typeof v.key === 'string' && typeof v.status === 'string' && typeof v.createdAt === 'string'
    && typeof v.policy === 'string' && typeof v.source === 'object' && typeof v.destination === 'object';
}

/** A page ends at a job; the next page starts strictly below its sort key. */
export function encodeCursor(sortKey: string): string {
  return Buffer.from(JSON.stringify({ t: sortKey }), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string): string {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (typeof value === 'object' && value !== null && typeof (value as { t?: unknown }).t === 'string') return (value as { t: string }).t;
  } catch { /* reported below */ }
  throw new InvalidCursorError(cursor);
}
