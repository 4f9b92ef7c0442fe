import { describe, expect, it } from 'vitest';
import { FilterError, filterProblems, matchesRepository, matchesTag } from '../../shared/policy/match.js';

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

  it('the same list matched again after it changed follows its new contents', () => {
    const patterns = ['team/**'];
    expect(matchesRepository(patterns, 'team/app')).toBe(true);
    expect(matchesTag(patterns, 'team/app')).toBe(true);
    patterns[0] = 'infra/**';
    expect(matchesRepository(patterns, 'team/app')).toBe(false);
    expect(matchesRepository(patterns, 'infra/app')).toBe(true);
    patterns.push('team/**');
    expect(matchesRepository(patterns, 'team/app')).toBe(true);
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

describe('semver: and regex: tag filters', () => {
  it('semver ranges select versions, a leading v tolerated, non-versions never', () => {
    const tags = ['semver:>=1.2.0 <2'];
    expect(matchesTag(tags, '1.2.0')).toBe(true);
    expect(matchesTag(tags, 'v1.9.3')).toBe(true);
    expect(matchesTag(tags, '2.0.0')).toBe(false);
    expect(matchesTag(tags, '1.1.9')).toBe(false);
    expect(matchesTag(tags, 'latest')).toBe(false);
    expect(matchesTag(tags, '1.4')).toBe(false);
    // node-semver: a pre-release only matches a range that names one of the same version.
    expect(matchesTag(tags, '1.5.0-rc.1')).toBe(false);
    expect(matchesTag(['semver:^3'], 'v3.4.5')).toBe(true);
  });

  it('regexes are anchored at both ends', () => {
    expect(matchesTag(['regex:v1'], 'v1')).toBe(true);
    expect(matchesTag(['regex:v1'], 'v10')).toBe(false);
    expect(matchesTag(['regex:v1'], 'xv1')).toBe(false);
    expect(matchesTag(['regex:v\\d+\\.\\d+|stable'], 'v3.12')).toBe(true);
    expect(matchesTag(['regex:v\\d+\\.\\d+|stable'], 'stable')).toBe(true);
    expect(matchesTag(['regex:v\\d+\\.\\d+|stable'], 'v3.12-stable')).toBe(false);
  });

  it('mix with globs; ! excludes any kind', () => {
    const tags = ['semver:>=2', 'latest', 'regex:nightly-\\d{8}', '!semver:2.3.x', '!regex:.*-debug'];
    expect(matchesTag(tags, '2.1.0')).toBe(true);
    expect(matchesTag(tags, '2.3.4')).toBe(false);
    expect(matchesTag(tags, 'latest')).toBe(true);
    expect(matchesTag(tags, 'nightly-20261202')).toBe(true);
    expect(matchesTag(tags, 'nightly-2026')).toBe(false);
    expect(matchesTag(tags, '1.0.0')).toBe(false);
    expect(matchesTag(['*', '!regex:.*-debug'], 'v1-debug')).toBe(false);
    expect(matchesTag(['*', '!regex:.*-debug'], 'v1')).toBe(true);
  });

  it('regex: works for repositories too', () => {
    expect(matchesRepository(['regex:team/(app|web)'], 'team/web')).toBe(true);
    expect(matchesRepository(['regex:team/(app|web)'], 'team/web2')).toBe(false);
  });
});

describe('invalid filters are reported, entry by entry', () => {
  it('unbalanced glob brackets, bad ranges and regexes, semver on repositories', () => {
    expect(filterProblems(['team/[**', 'ok/*', 'a{b'], 'repository')).toEqual([
      { index: 0, message: expect.stringMatching(/^invalid glob "team\/\[\*\*": Missing closing: "\]"/) },
      { index: 2, message: expect.stringMatching(/^invalid glob "a\{b": Missing closing: "\}"/) },
    ]);
    expect(filterProblems(['semver:>=banana'], 'tag')).toEqual([{ index: 0, message: expect.stringMatching(/^invalid semver range ">=banana"/) }]);
    expect(filterProblems(['!regex:(v1'], 'tag')).toEqual([{ index: 0, message: expect.stringMatching(/^invalid regex "\(v1"/) }]);
    expect(filterProblems(['semver:^1'], 'repository')).toEqual([{ index: 0, message: 'semver: ranges filter tags, not repositories' }]);
    expect(filterProblems(['v*', 'semver:~1.4', 'regex:.+', '!*-rc*'], 'tag')).toEqual([]);
    expect(() => matchesTag(['team/[**'], 'x')).toThrow(FilterError);
  });
});
