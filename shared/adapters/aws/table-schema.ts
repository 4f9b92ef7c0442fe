// The job table's layout: one table, items told apart by their partition key prefix.
// setup.ts creates it from this (dev/test), the CDK stack should declare the same.
//
//   JOB#<id>       a job record: the Job's fields as top-level attributes, plus the index
//                  attributes below (only job items carry them, so the indexes are sparse)
//   QUEUED#<key>   coalescing pointer: { jobId, job (snapshot) } while a job with that key
//                  is queued; a pointer whose job is not queued is stale and overwritten
//   LEASE#<key>    run lease: { holder, leaseUntil (epoch ms) }
//   BLOB#<registry>#<digest>  blob index (dynamo-blob-index.ts): { repository, seenUntil,
//                  uploader, leaseUntil } (epoch ms), expiresAt for the TTL
//   RATE#<registry> shared rate control (dynamo-rate-store.ts): { state, tat, version }
//   CONTROL#...    control-plane state: policy state and recent deliveries
//                  (dynamo-control-store.ts)
//
// Queries: every index sorts by gsiTime = "<createdAt>#<id>" (unique, ISO time sorts as
// text), so all pages are "newest first, strictly older than the cursor". status and
// policy each get an index; repository matches the source OR the destination repository,
// so it gets two indexes whose results are merged. A query with several filters uses the
// most selective index (repository, then policy, then status) and filters the rest.
// gsiAll is one constant partition for the unfiltered listing: a hot key at very high job
// rates, acceptable for an admin listing (GSI writes never throttle the base table item).

export const PARTITION_KEY = 'pk';
/** The table's TTL attribute (epoch seconds); also the Job field of the same name. */
export const TTL_ATTRIBUTE = 'expiresAt';
export const TIME_SORT_KEY = 'gsiTime';

export interface IndexDefinition {
  indexName: string;
  partitionKey: string;
  sortKey: string;
}

export const INDEXES = {
  byStatus: { indexName: 'by-status', partitionKey: 'gsiStatus', sortKey: TIME_SORT_KEY },
  byPolicy: { indexName: 'by-policy', partitionKey: 'gsiPolicy', sortKey: TIME_SORT_KEY },
  bySourceRepository: { indexName: 'by-source-repository', partitionKey: 'gsiSourceRepo', sortKey: TIME_SORT_KEY },
  byDestinationRepository: { indexName: 'by-destination-repository', partitionKey: 'gsiDestRepo', sortKey: TIME_SORT_KEY },
  byTime: { indexName: 'by-time', partitionKey: 'gsiAll', sortKey: TIME_SORT_KEY },
} as const satisfies Record<string, IndexDefinition>;

/** Everything a table definition (SDK CreateTable or CDK) needs; all attributes are strings. */
export const JOB_TABLE_SCHEMA = {
  partitionKey: PARTITION_KEY,
  ttlAttribute: TTL_ATTRIBUTE,
  /** Projection ALL: list pages come straight from the index. */
  indexes: Object.values(INDEXES) as readonly IndexDefinition[],
} as const;
