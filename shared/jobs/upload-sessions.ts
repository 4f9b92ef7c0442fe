// Upload sessions kept on the job record: an attempt cut short (deadline, shutdown, network)
// leaves its open chunked uploads there, and the next attempt of the same job resumes them.
import { MemoryUploadSessions } from '../replicate/upload-sessions.js';
import type { Job } from './model.js';
import type { JobStore } from './ports.js';

export class JobUploadSessions extends MemoryUploadSessions {
  /** Writes go out one at a time and in order, so the record ends with the latest list. */
  private writing: Promise<unknown> = Promise.resolve();

  constructor(private readonly store: JobStore, private readonly jobId: string, initial: Job['uploads'] = []) {
    super(initial);
  }

  protected override async changed(): Promise<void> {
    const uploads = this.list();
    const write = this.writing.then(() =>
      // Only while this run holds the job: a record that moved on is not written over.
      this.store.transition(this.jobId, ['running'], { status: 'running', uploads: uploads.length > 0 ? uploads : undefined }));
    this.writing = write.catch(() => undefined);
    await write;
  }
}
