// A shared allowance of bytes for request bodies ferry buffers before it knows who sent
// them (webhooks proved only by a body signature). Without it, many connections each
// holding a 1 MiB body that will fail verification add up to unbounded memory.

export class ByteBudget {
  private used = 0;

  constructor(readonly limit: number) {}

  /** Takes n bytes if they fit; false (nothing taken) when they do not. */
  take(n: number): boolean {
    if (this.used + n > this.limit) return false;
    this.used += n;
    return true;
  }

  give(n: number): void {
    this.used = Math.max(0, this.used - n);
  }

  get inUse(): number {
    return this.used;
  }
}

/** Unverified webhook bodies held at once, all connections together. */
export const UNVERIFIED_BODY_BUDGET_BYTES = 16 * 1024 * 1024;
