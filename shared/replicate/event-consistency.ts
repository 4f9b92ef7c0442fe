// Distribution 2.x queues the push notification inside the manifest PUT, before it writes
// the tag link, so a fast worker can resolve the tag while it still names the OLD digest
// (or nothing, on a first push) and "converge" to a state the registry is about to leave.
// Before running a fresh push job, wait briefly until the source tag resolves to the
// digest the event reported; then run the job as usual (the source stays authoritative:
// if the tag moved on in the meantime, the job copies whatever it points at now).
// Transient answers (5xx, 429, resets) during the wait are polled through, not job failures.
import { isTag } from '../oci/grammar.js';
import type { RegistryClient } from '../registry/client.js';
import { RegistryError } from '../registry/errors.js';
import { pause } from '../retry/sleep.js';
import type { ReplicateJob, ReplicationTask } from './types.js';

export interface EventConsistencyOptions {
  /** Longest wait for the source to catch up with the event. */
  maxWaitMs?: number;
  pollMs?: number;
  /** Only events this recent wait (by the event's own time: redelivered old events describe settled state). */
  freshMs?: number;
}

function awaitsTag(job: ReplicationTask, freshMs: number): job is ReplicationTask & { source: { digest: string } } {
  return job.trigger.kind === 'event'
    && job.trigger.action === 'push'
    && job.source.digest !== undefined
    && isTag(job.source.reference)
    && Date.now() - Date.parse(job.trigger.at) < freshMs;
}

export function awaitEventConsistency(replicate: ReplicateJob, clients: Map<string, RegistryClient>, options: EventConsistencyOptions = {}): ReplicateJob {
  const maxWaitMs = options.maxWaitMs ?? 3000;
  const pollMs = options.pollMs ?? 50;
  const freshMs = options.freshMs ?? 30_000;
  return async (job, opts) => {
    const source = clients.get(job.source.registry);
    if (source && awaitsTag(job, freshMs)) {
      const deadline = Date.now() + maxWaitMs;
      for (;;) {
        let digest: string | undefined;
        try {
          digest = (await source.headManifest(job.source.repository, job.source.reference, opts.signal))?.digest;
        } catch (err) {
          // A registry busy with the very push it notified about may answer 5xx or drop the
          // connection: poll again within the window; past it, the job itself meets (and
          // classifies) whatever the source does then.
          if (!(err instanceof RegistryError && err.transient) || opts.signal?.aborted) throw err;
        }
        if (digest === job.source.digest || Date.now() >= deadline || opts.signal?.aborted) break;
        await pause(pollMs, opts.signal);
      }
    }
    return replicate(job, opts);
  };
}
