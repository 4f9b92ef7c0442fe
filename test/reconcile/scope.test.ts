// Which repositories a reconcile lists, and how the walk bounds its concurrency.
import { describe, expect, it } from 'vitest';
import { mapBounded } from '../../shared/reconcile/bounded.js';
import { inRepositoryScope, inTagScope, literalRepositories } from '../../shared/reconcile/scope.js';

describe('literalRepositories: plain names need no catalog', () => {
  it('returns the names when every include is a plain repository name', () => {
    expect(literalRepositories(['team/app', 'base'])).toEqual(['team/app', 'base']);
  });

  it('applies excludes to the fixed names', () => {
    expect(literalRepositories(['team/app', 'team/old', '!team/old'])).toEqual(['team/app']);
    expect(literalRepositories(['team/app', 'team/tmp', '!team/t*'])).toEqual(['team/app']);
  });

  it('drops duplicates', () => {
    expect(literalRepositories(['a', 'a'])).toEqual(['a']);
  });

  it('needs the catalog as soon as one include has glob syntax', () => {
    expect(literalRepositories(['team/app', 'team/*'])).toBeUndefined();
    expect(literalRepositories(['**'])).toBeUndefined();
    expect(literalRepositories(['team/{a,b}'])).toBeUndefined();
    expect(literalRepositories(['team/ap?'])).toBeUndefined();
  });

  it('needs the catalog when there are only excludes ("everything except")', () => {
    expect(literalRepositories(['!scratch/**'])).toBeUndefined();
  });
});

describe('scope filters validate names from registries before use', () => {
  it('keeps repositories the globs match and that pass the OCI grammar', () => {
    const policy = { repositories: ['team/**', '!team/scratch/**'] };
    expect(inRepositoryScope(policy, 'team/app')).toBe(true);
    expect(inRepositoryScope(policy, 'team/scratch/x')).toBe(false);
    expect(inRepositoryScope(policy, 'other/app')).toBe(false);
    expect(inRepositoryScope(policy, 'team/../etc')).toBe(false);
    expect(inRepositoryScope(policy, 'team/App')).toBe(false);
  });

  it('keeps tags the globs match and that pass the OCI grammar', () => {
    const policy = { tags: ['v*', 'latest', '!*-rc*'] };
    expect(inTagScope(policy, 'v1.2')).toBe(true);
    expect(inTagScope(policy, 'latest')).toBe(true);
    expect(inTagScope(policy, 'v2-rc1')).toBe(false);
    expect(inTagScope(policy, 'dev')).toBe(false);
    expect(inTagScope({ tags: ['*'] }, 'v/../x')).toBe(false);
    expect(inTagScope({ tags: ['*'] }, `v${'x'.repeat(200)}`)).toBe(false);
  });
});

describe('mapBounded', () => {
  async function* numbers(n: number, pulled: number[]): AsyncGenerator<number> {
    for (let i = 0; i < n; i++) {
      pulled.push(i);
      yield i;
    }
  }

  it('keeps source order while calls finish out of order', async () => {
    const out: number[] = [];
    const pulled: number[] = [];
    for await (const v of mapBounded(numbers(10, pulled), 4, async (i) => {
      await new Promise((r) => setTimeout(r, (10 - i) * 3));
      return i * 10;
    })) out.push(v);
    expect(out).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
  });

  it('never runs more than `concurrency` calls, and pulls the source only as slots free up', async () => {
    let running = 0;
    let peak = 0;
    const pulled: number[] = [];
    const gen = mapBounded(numbers(100, pulled), 3, async (i) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 2));
      running--;
      return i;
    });
    const first = await gen.next();
    expect(first.value).toBe(0);
    // Only what fills the window was read from the source, not all 100 items.
    expect(pulled.length).toBeLessThanOrEqual(4);
    for await (const _ of gen) { /* drain */ }
    expect(peak).toBeLessThanOrEqual(3);
    expect(pulled.length).toBe(100);
  });

  it('surfaces a failing call at its place in the order', async () => {
    const pulled: number[] = [];
    const out: number[] = [];
    const run = async () => {
      for await (const v of mapBounded(numbers(5, pulled), 2, async (i) => {
        if (i === 3) throw new Error('boom at 3');
        return i;
      })) out.push(v);
    };
    await expect(run()).rejects.toThrow('boom at 3');
    expect(out).toEqual([0, 1, 2]);
  });
});
