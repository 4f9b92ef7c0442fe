// State the control plane keeps beside the jobs: per-policy state (paused, last sync, last
// verify) and the recent webhook deliveries. Adapters: shared/adapters/embedded (SQLite
// tables) and shared/adapters/aws (items in the job table); one contract suite runs both.

export interface PolicyRunRecord {
  at: string;
  /** Who asked: "admin-api", "console", "cli:alice", "schedule". */
  by: string;
}

export interface PolicySyncRecord extends PolicyRunRecord {
  /** Jobs the sync enqueued (new ones), tags already in sync, registry errors. */
  enqueued: number;
  inSync: number;
  errorCount: number;
}

export interface PolicyVerifyRecord extends PolicyRunRecord {
  inSync: boolean;
  differences: number;
  errorCount: number;
}

export interface PolicyState {
  name: string;
  paused: boolean;
  /** When and by whom it was last paused or resumed. */
  changedAt?: string;
  changedBy?: string;
  lastSync?: PolicySyncRecord;
  lastVerify?: PolicyVerifyRecord;
}

/** One webhook request as the receiving end saw it (GitHub's "Recent Deliveries"). */
export interface Delivery {
  id: string;
  at: string;
  /** The configured registry the request was posted for. */
  registry: string;
  remoteAddress?: string;
  /** HTTP status ferry answered. */
  status: number;
  /** Events the payload held (parsed), before any was ignored. */
  events: number;
  /** Jobs the delivery created (duplicates of queued jobs not counted). */
  jobsCreated: number;
  jobIds: string[];
  /** Why events were ignored (pull, blob push, no policy covers the repository, ...). */
  ignored: string[];
  /** The error answered, for 4xx/5xx. */
  error?: string;
}

/** Deliveries kept per registry, and for how long. */
export const DELIVERY_LIMITS = { perRegistry: 100, maxAgeMs: 7 * 24 * 3600 * 1000 } as const;

export interface ControlStore {
  getPolicy(name: string): Promise<PolicyState | undefined>;
  /** Writes the whole state (last writer wins: each field has one writer at a time). */
  putPolicy(state: PolicyState): Promise<void>;
  /** Adds a delivery, dropping the registry's oldest past DELIVERY_LIMITS. */
  recordDelivery(delivery: Delivery): Promise<void>;
  /** Newest first, at most `limit`, none older than DELIVERY_LIMITS.maxAgeMs. */
  listDeliveries(registry: string, limit: number): Promise<Delivery[]>;
}
