import { describe, expect, it } from 'vitest';
import { matchesRepository, matchesTag } from '../../shared/policy/match.js';

describe('repository globs (doublestar)', () => {
  it('* stays within one path component, ** crosses components', () => {
    expect(matchesRepository(['team/*'], 'team/app')).toBe(true);
    expect(matchesRepository(['team/*'], 'team/sub/app')).toBe(false);
    expect(matchesRepository(['team/**'], 'team/sub/app')).toBe(true);
    expect(matchesRepository(['team/**'], 'team')).toBe(true);
    expect(matchesRepository(['team/**'], 'teams/app')).toBe(false);
    expect(matchesRepository(['**'], 'a/b/c/d')).toBe(true);
    expect(matchesRepository(['*'], 'a/b')).toBe(false);
    expect(matchesRepository(['**/app'], 'x/y/app')).toBe(true);
  });

  it('matches when some include matches and no exclude does', () => {
    const patterns = ['team/**', 'infra/base', '!team/scratch/**'];
    expect(matchesRepository(patterns, 'team/app')).toBe(true);
    expect(matchesRepository(patterns, 'infra/base')).toBe(true);
    expect(matchesRepository(patterns, 'infra/other')).toBe(false);
    expect(matchesRepository(patterns, 'team/scratch/tmp')).toBe(false);
  });

  it('an exclude wins regardless of order', () => {
    expect(matchesRepository(['!team/secret', 'team/*'], 'team/secret')).toBe(false);
    expect(matchesRepository(['team/*', '!team/secret'], 'team/secret')).toBe(false);
  });

  it('a list of only excludes means everything except them', () => {
    expect(matchesRepository(['!tmp/**'], 'team/app')).toBe(true);
    expect(matchesRepository(['!tmp/**'], 'tmp/x')).toBe(false);
  });

  it('supports braces and character classes', () => {
    expect(matchesRepository(['{team,ops}/app'], 'ops/app')).toBe(true);
    expect(matchesRepository(['app[0-9]'], 'app7')).toBe(true);
    expect(matchesRepository(['app[0-9]'], 'appx')).toBe(false);
  });
});

describe('tag globs', () => {
  const tags = ['v*', 'latest', '!*-rc*'];
  it('use the same include/exclude rules', () => {
    expect(matchesTag(tags, 'v1.2.3')).toBe(true);
    expect(matchesTag(tags, 'latest')).toBe(true);
    expect(matchesTag(tags, 'v2.0.0-rc1')).toBe(false);
    expect(matchesTag(tags, 'nightly')).toBe(false);
  });

  it('are anchored: a glob never matches a substring', () => {
    expect(matchesTag(['v1'], 'v10')).toBe(false);
    expect(matchesTag(['latest'], 'not-latest')).toBe(false);
  });
});
