// In-process wake-ups for long polling: a send on any connection to the same file wakes
// receivers in this process at once. Other processes' sends are found by polling.
const waiters = new Map<string, Set<() => void>>();

export function notifySent(file: string): void {
  const set = waiters.get(file);
  if (!set) return;
  for (const wake of [...set]) wake();
}

/** Resolves after `ms`, or earlier when a message is sent to `file`. */
export function waitForSend(file: string, ms: number): Promise<void> {
  return new Promise((resolve) => {
    let set = waiters.get(file);
    if (!set) waiters.set(file, (set = new Set()));
    const done = () => {
      clearTimeout(timer);
      set!.delete(done);
      if (set!.size === 0) waiters.delete(file);
      resolve();
    };
    const timer = setTimeout(done, ms);
    set.add(done);
  });
}
