// A clock the test moves by hand, so visibility timeouts and leases expire without sleeping.
import type { Clock } from '../../shared/jobs/ports.js';

export interface ManualClock extends Clock {
  advance(ms: number): void;
  set(at: Date): void;
}

export function createManualClock(start: Date = new Date('2026-01-01T00:00:00.000Z')): ManualClock {
  let nowMs = start.getTime();
  return {
    now: () => new Date(nowMs),
    advance: (ms) => { nowMs += ms; },
    set: (at) => { nowMs = at.getTime(); },
  };
}
