import { describe, expect, it } from 'vitest';
import { TagListings } from '../../shared/registry/tag-listings.js';

describe('TagListings', () => {
  it('gives a listing back while it is young enough, then forgets it', () => {
    let now = 1_000;
    const listings = new TagListings(() => now);
    listings.remember('team/app', new Set(['v1', 'v2']));
    expect(listings.recent('team/app', 60_000)).toEqual(new Set(['v1', 'v2']));
    expect(listings.recent('team/other', 60_000)).toBeUndefined();
    now += 60_001;
    expect(listings.recent('team/app', 60_000)).toBeUndefined();
    now -= 60_001;
    expect(listings.recent('team/app', 60_000)).toBeUndefined();
  });

  it('keeps the newest 1024 repositories and no listing over 10,000 tags', () => {
    const listings = new TagListings(() => 0);
    for (let i = 0; i <= 1024; i++) listings.remember(`r${i}`, new Set(['v1']));
    expect(listings.recent('r0', 1)).toBeUndefined();
    expect(listings.recent('r1', 1)).toBeDefined();
    expect(listings.recent('r1024', 1)).toBeDefined();
    listings.remember('big', new Set(Array.from({ length: 10_001 }, (_, i) => `t${i}`)));
    expect(listings.recent('big', 1)).toBeUndefined();
  });
});
