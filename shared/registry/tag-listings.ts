// Complete tag listings a client read lately, by repository: reconcile lists a repository's
// tags just before its jobs run, and what the listing lacks need not be asked for again
// (shared/replicate/referrers.ts: referrer tags). Bounded, so a walk over a large registry
// keeps only the newest listings.
const MAX_REPOSITORIES = 1024;
/** A listing this large is not kept: the memory is not worth the requests it saves. */
const MAX_TAGS = 10_000;

export class TagListings {
  private readonly byRepository = new Map<string, { tags: ReadonlySet<string>; at: number }>();

  constructor(private readonly now: () => number = () => performance.now()) {}

  remember(repository: string, tags: ReadonlySet<string>): void {
    this.byRepository.delete(repository);
    if (tags.size > MAX_TAGS) return;
    this.byRepository.set(repository, { tags, at: this.now() });
    // Maps iterate in insertion order: the first key is the oldest listing.
    if (this.byRepository.size > MAX_REPOSITORIES) this.byRepository.delete(this.byRepository.keys().next().value!);
  }

  /** The listing of `repository` if it is at most `maxAgeMs` old. */
  recent(repository: string, maxAgeMs: number): ReadonlySet<string> | undefined {
    const listing = this.byRepository.get(repository);
    if (!listing) return undefined;
    if (this.now() - listing.at > maxAgeMs) {
      this.byRepository.delete(repository);
      return undefined;
    }
    return listing.tags;
  }
}
