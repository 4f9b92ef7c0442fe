// Repository and tag filters of a policy (config validates them; policy and reconcile match
// with them). Each entry is a glob, `regex:<re>` or (tags only) `semver:<range>`; a
// leading `!` makes any of them an exclude. A name matches when it matches at least one
// include and no exclude; a list with only excludes means "everything except".
//
// Globs use doublestar semantics (picomatch): `*` stays within one path component, `**`
// crosses components. Regexes are anchored at both ends (as regsync's are): `regex:v1` does
// not match `v10`. Semver ranges are node-semver's (`semver:>=1.2 <2`, `semver:^3`); a tag
// matches when it is a valid version, a leading `v` tolerated (`v1.4.0`), so `latest` or
// `1.4` never match one. Pre-releases match only ranges that name one (node-semver's rule).
import picomatch from 'picomatch';
import semver from 'semver';

export interface GlobSet {
  includes: string[];
  excludes: string[];
  test(name: string): boolean;
}

/** What a filter list applies to: semver ranges only make sense for tags. */
export type FilterKind = 'repository' | 'tag';

const compiled = new Map<string, GlobSet>();
/** The same sets by array identity, with the contents they were compiled from (arrays can change). */
const byArray = new WeakMap<readonly string[], { contents: string[]; sets: Partial<Record<FilterKind, GlobSet>> }>();

/** The entry for `patterns` while the array still holds what the entry was made from. */
function current(patterns: readonly string[]): { contents: string[]; sets: Partial<Record<FilterKind, GlobSet>> } | undefined {
  const entry = byArray.get(patterns);
  return entry && entry.contents.length === patterns.length && entry.contents.every((p, i) => p === patterns[i]) ? entry : undefined;
}

function remembered(patterns: readonly string[], kind: FilterKind): GlobSet | undefined {
  return current(patterns)?.sets[kind];
}

function remember(patterns: readonly string[], kind: FilterKind, set: GlobSet): void {
  const entry = current(patterns);
  if (entry) entry.sets[kind] = set;
  else byArray.set(patterns, { contents: [...patterns], sets: { [kind]: set } });
}

/** A pattern list a policy cannot use. */
export class FilterError extends Error {
  override readonly name = 'FilterError';
}

// Names never start with "."; `dot` only keeps picomatch from treating such names specially.
// strictBrackets: an unbalanced `[`, `{` or `(` is an error, not a pattern that silently
// matches nothing.
const GLOB_OPTIONS = { dot: true, strictBrackets: true };

type Predicate = (name: string) => boolean;

/** One entry (without its `!`) -> a predicate; throws FilterError saying what is wrong. */
function compileEntry(entry: string, kind: FilterKind): Predicate {
  if (entry.startsWith('regex:')) {
    const source = entry.slice('regex:'.length);
    if (source === '') throw new FilterError('regex: needs an expression');
    let re: RegExp;
    try {
      re = new RegExp(`^(?:${source})$`);
    } catch (e) {
      throw new FilterError(`invalid regex ${JSON.stringify(source)}: ${(e as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '')}`);
    }
    return (name) => re.test(name);
  }
  if (entry.startsWith('semver:')) {
    const text = entry.slice('semver:'.length).trim();
    if (kind !== 'tag') throw new FilterError('semver: ranges filter tags, not repositories');
    if (text === '') throw new FilterError('semver: needs a range, e.g. semver:>=1.2 <2');
    const range = semver.validRange(text) === null ? undefined : new semver.Range(text);
    if (!range) throw new FilterError(`invalid semver range ${JSON.stringify(text)} (node-semver syntax, e.g. ">=1.2 <2", "^3", "~1.4")`);
    return (name) => {
      const version = semver.valid(name);
      return version !== null && range.test(version);
    };
  }
  if (entry === '') throw new FilterError('empty pattern');
  if (/(^|[^\\])(\\\\)*\\$/.test(entry)) throw new FilterError(`invalid glob ${JSON.stringify(entry)}: ends with an unescaped backslash`);
  try {
    const re = picomatch.makeRe(entry, GLOB_OPTIONS);
    return (name) => re.test(name);
  } catch (e) {
    // picomatch writes the escape as a JS string literal would ("\\]"); YAML users type one backslash.
    throw new FilterError(`invalid glob ${JSON.stringify(entry)}: ${(e as Error).message.replaceAll('\\\\', '\\')}`);
  }
}

/** Why entries of a pattern list are unusable (none: []). For config validation. */
export function filterProblems(patterns: readonly string[], kind: FilterKind): Array<{ index: number; message: string }> {
  const problems: Array<{ index: number; message: string }> = [];
  for (const [index, p] of patterns.entries()) {
    try {
      compileEntry(p.startsWith('!') ? p.slice(1) : p, kind);
    } catch (e) {
      if (!(e instanceof FilterError)) throw e;
      problems.push({ index, message: e.message });
    }
  }
  return problems;
}

/** Compiles a pattern list once; policies are evaluated for every event. Throws FilterError. */
export function globSet(patterns: readonly string[], kind: FilterKind = 'repository'): GlobSet {
  // Policies pass the same arrays for every event: found by identity first, without the key.
  const same = remembered(patterns, kind);
  if (same) return same;
  const cacheKey = `${kind}\0${JSON.stringify(patterns)}`;
  const cached = compiled.get(cacheKey);
  if (cached) {
    remember(patterns, kind, cached);
    return cached;
  }
  const includes: string[] = [];
  const excludes: string[] = [];
  const include: Predicate[] = [];
  const exclude: Predicate[] = [];
  for (const p of patterns) {
    if (p.startsWith('!')) {
      excludes.push(p.slice(1));
      exclude.push(compileEntry(p.slice(1), kind));
    } else {
      includes.push(p);
      include.push(compileEntry(p, kind));
    }
  }
  const set: GlobSet = {
    includes,
    excludes,
    test: (name) => (include.length === 0 || include.some((f) => f(name))) && !exclude.some((f) => f(name)),
  };
  compiled.set(cacheKey, set);
  remember(patterns, kind, set);
  return set;
}

export function matchesRepository(patterns: readonly string[], repository: string): boolean {
  return globSet(patterns, 'repository').test(repository);
}

export function matchesTag(patterns: readonly string[], tag: string): boolean {
  return globSet(patterns, 'tag').test(tag);
}
