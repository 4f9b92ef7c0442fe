// Where a blob was recently seen at a destination registry (uploaded, mounted or found by
// HEAD): the candidates for a cross-repository mount instead of a second upload.

export class MountCache {
  private readonly registries = new Map<string, Map<string, string>>();

  /** `maxEntries` bounds each registry's map; the oldest sightings are dropped first. */
  constructor(private readonly maxEntries = 10_000) {}

  /** Records that `repository` at `registryKey` holds `digest`. */
  remember(registryKey: string, digest: string, repository: string): void {
    let entries = this.registries.get(registryKey);
    if (!entries) {
      entries = new Map();
      this.registries.set(registryKey, entries);
    }
    entries.delete(digest);
    entries.set(digest, repository);
    if (entries.size > this.maxEntries) {
      const oldest = entries.keys().next().value;
      if (oldest !== undefined) entries.delete(oldest);
    }
  }

  /** A repository other than `except` known to hold `digest`, if any. */
  lookup(registryKey: string, digest: string, except?: string): string | undefined {
    const repository = this.registries.get(registryKey)?.get(digest);
    return repository !== undefined && repository !== except ? repository : undefined;
  }

  /** Forgets a sighting that turned out wrong (the mount did not happen). */
  forget(registryKey: string, digest: string): void {
    this.registries.get(registryKey)?.delete(digest);
  }
}

/** One cache per process: every copy to a registry benefits from the others' uploads. */
export const sharedMountCache = new MountCache();
