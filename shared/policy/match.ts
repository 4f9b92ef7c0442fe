// Repository and tag filters of a policy. Globs use doublestar semantics (picomatch):
// `*` stays within one path component, `**` crosses components. A pattern starting with
// `!` excludes. A name matches when it matches at least one include and no exclude; a
// list with only excludes means "everything except".
import picomatch from 'picomatch';

export interface GlobSet {
  includes: string[];
  excludes: string[];
  test(name: string): boolean;
}

const compiled = new Map<string, GlobSet>();

/** Compiles a pattern list once; policies are evaluated for every event. */
export function globSet(patterns: readonly string[]): GlobSet {
  const cacheKey = JSON.stringify(patterns);
  const cached = compiled.get(cacheKey);
  if (cached) return cached;
  const includes: string[] = [];
  const excludes: string[] = [];
  for (const p of patterns) {
    if (p.startsWith('!')) excludes.push(p.slice(1));
    else includes.push(p);
  }
  // Names never start with "."; `dot` only keeps picomatch from treating such names specially.
  const options = { dot: true };
  const include = includes.length > 0 ? picomatch(includes, options) : () => true;
  const exclude = excludes.length > 0 ? picomatch(excludes, options) : () => false;
  const set: GlobSet = { includes, excludes, test: (name) => include(name) && !exclude(name) };
  compiled.set(cacheKey, set);
  return set;
}

export function matchesRepository(patterns: readonly string[], repository: string): boolean {
  return globSet(patterns).test(repository);
}

export function matchesTag(patterns: readonly string[], tag: string): boolean {
  return globSet(patterns).test(tag);
}
