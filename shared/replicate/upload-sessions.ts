// Where the copy engine finds and records open chunked uploads, so an attempt that was
// interrupted (deadline, shutdown, network) is resumed by the next one instead of restarted.
// The host decides where sessions live: in memory for one copy, on the job record for a worker.

/** An upload session at a destination registry and how many bytes of the blob it holds. */
export interface UploadSession {
  /** Config name of the destination registry. */
  destinationRegistry: string;
  repository: string;
  digest: string;
  /** The session URL (absolute) to GET for its offset and to PATCH/PUT next. */
  location: string;
  offset: number;
}

/** Identifies one blob's upload at one destination repository. */
export type UploadSessionKey = Pick<UploadSession, 'destinationRegistry' | 'repository' | 'digest'>;

export interface UploadSessions {
  get(key: UploadSessionKey): Promise<UploadSession | undefined>;
  save(session: UploadSession): Promise<void>;
  clear(key: UploadSessionKey): Promise<void>;
}

export function sameUpload(a: UploadSessionKey, b: UploadSessionKey): boolean {
  return a.destinationRegistry === b.destinationRegistry && a.repository === b.repository && a.digest === b.digest;
}

/** Sessions kept in a list (the default for a single copy: retries within it resume). */
export class MemoryUploadSessions implements UploadSessions {
  protected sessions: UploadSession[];

  constructor(initial: readonly UploadSession[] = []) {
    this.sessions = [...initial];
  }

  list(): UploadSession[] {
    return [...this.sessions];
  }

  async get(key: UploadSessionKey): Promise<UploadSession | undefined> {
    return this.sessions.find((s) => sameUpload(s, key));
  }

  async save(session: UploadSession): Promise<void> {
    this.sessions = [...this.sessions.filter((s) => !sameUpload(s, session)), { ...session }];
    await this.changed();
  }

  async clear(key: UploadSessionKey): Promise<void> {
    const before = this.sessions.length;
    this.sessions = this.sessions.filter((s) => !sameUpload(s, key));
    if (this.sessions.length !== before) await this.changed();
  }

  /** Hook for subclasses that persist the list. */
  protected async changed(): Promise<void> {}
}
