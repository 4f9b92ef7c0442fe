import { describe, expect, it } from 'vitest';
import { renderRepository, sourceRepositoryFor, templateProblem, TemplateError } from '../../shared/config/template.js';

describe('destination repository templates', () => {
  it('{repository} is the whole source path', () => {
    expect(renderRepository('{repository}', 'team/sub/app')).toBe('team/sub/app');
    expect(renderRepository('mirror/{repository}', 'team/app')).toBe('mirror/team/app');
  });

  it('{name} is the last component and {namespace} everything before it', () => {
    expect(renderRepository('{namespace}/archive/{name}', 'team/sub/app')).toBe('team/sub/archive/app');
    expect(renderRepository('flat/{name}', 'team/sub/app')).toBe('flat/app');
  });

  it('an empty {namespace} leaves no empty path component', () => {
    expect(renderRepository('{namespace}/{name}', 'app')).toBe('app');
    expect(renderRepository('x/{namespace}/{name}', 'app')).toBe('x/app');
  });

  it('a literal template sends every repository to one place', () => {
    expect(renderRepository('archive/all', 'team/app')).toBe('archive/all');
  });

  it('a result that breaks the OCI grammar is an error naming template and repository', () => {
    expect(() => renderRepository('Mirror/{repository}', 'team/app')).toThrow(TemplateError);
    expect(() => renderRepository('mirror/{repository}', 'a'.repeat(250))).toThrow(/renders "a+" as an invalid name: repository name is 257 characters/);
  });

  it('unknown placeholders are errors', () => {
    expect(() => renderRepository('{repo}', 'team/app')).toThrow('unknown placeholder {repo}');
    expect(templateProblem('{repo}/{name}')).toBe('unknown placeholder {repo} (known: {repository}, {namespace}, {name})');
    expect(templateProblem('mirror/{repository')).toMatch(/unbalanced braces/);
    expect(templateProblem('mirror/{repository}')).toBeUndefined();
  });
});

describe('sourceRepositoryFor: the source repository a destination repository came from', () => {
  it('{repository} once, with any literal prefix or suffix', () => {
    expect(sourceRepositoryFor('{repository}', 'team/sub/app')).toBe('team/sub/app');
    expect(sourceRepositoryFor('mirror/{repository}', 'mirror/team/app')).toBe('team/app');
    expect(sourceRepositoryFor('mirror/{repository}/prod', 'mirror/team/app/prod')).toBe('team/app');
    expect(sourceRepositoryFor('dr-{repository}', 'dr-team/app')).toBe('team/app');
    expect(sourceRepositoryFor('/mirror//{repository}/', 'mirror/app')).toBe('app');
  });

  it('a destination the template cannot have rendered has no source', () => {
    expect(sourceRepositoryFor('mirror/{repository}', 'other/team/app')).toBeUndefined();
    expect(sourceRepositoryFor('mirror/{repository}', 'mirror')).toBeUndefined();
    expect(sourceRepositoryFor('mirror/{repository}/prod', 'mirror/team/app')).toBeUndefined();
    expect(sourceRepositoryFor('dr-{repository}', 'dr-/app')).toBeUndefined();
  });

  it('{namespace} then {name}, an empty namespace allowed (empty segments are dropped)', () => {
    expect(sourceRepositoryFor('{namespace}/{name}', 'team/sub/app')).toBe('team/sub/app');
    expect(sourceRepositoryFor('{namespace}/{name}', 'app')).toBe('app');
    expect(sourceRepositoryFor('{namespace}/archive/{name}', 'team/sub/archive/app')).toBe('team/sub/app');
    expect(sourceRepositoryFor('{namespace}/archive/{name}', 'archive/app')).toBe('app');
    expect(sourceRepositoryFor('x/{namespace}/{name}', 'x/app')).toBe('app');
    expect(sourceRepositoryFor('x/{namespace}/{name}', 'x/team/app')).toBe('team/app');
    expect(sourceRepositoryFor('{namespace}/{name}-prod', 'team/app-prod')).toBe('team/app');
    expect(sourceRepositoryFor('{namespace}/archive/{name}', 'team/app')).toBeUndefined();
  });

  it('an ambiguous split has no answer', () => {
    // "team/x-app" and "team-x/app" both render as "team-x-app".
    expect(renderRepository('{namespace}-{name}', 'team/x-app')).toBe(renderRepository('{namespace}-{name}', 'team-x/app'));
    expect(sourceRepositoryFor('{namespace}-{name}', 'team-x-app')).toBeUndefined();
    expect(sourceRepositoryFor('{namespace}-{name}', 'team-app')).toBe('team/app');
    expect(sourceRepositoryFor('{namespace}{name}', 'ab')).toBeUndefined();
  });

  it('templates that lose information are not inverted', () => {
    expect(sourceRepositoryFor('flat/{name}', 'flat/app')).toBeUndefined();
    expect(sourceRepositoryFor('{name}', 'app')).toBeUndefined();
    expect(sourceRepositoryFor('{namespace}/all', 'team/all')).toBeUndefined();
    expect(sourceRepositoryFor('{repository}/{repository}', 'a/a')).toBeUndefined();
    expect(sourceRepositoryFor('{name}/{namespace}', 'app/team')).toBeUndefined();
    expect(sourceRepositoryFor('{namespace}/{name}/{name}', 'team/app/app')).toBeUndefined();
    expect(sourceRepositoryFor('{repository}/{name}', 'team/app/app')).toBeUndefined();
    expect(sourceRepositoryFor('archive/all', 'archive/all')).toBeUndefined();
    expect(sourceRepositoryFor('{repo}', 'team/app')).toBeUndefined();
  });

  it('every answer renders back to the destination', () => {
    const templates = ['{repository}', 'mirror/{repository}', 'a-{repository}-b', '{namespace}/{name}', 'x/{namespace}/y/{name}', '{namespace}-{name}', '{namespace}{name}'];
    const sources = ['app', 'team/app', 'team/sub/app', 'a/b/c', 'team-x/app', 'team/x-app', 'ab'];
    const unrenderable: string[] = [];
    const ambiguous: string[] = [];
    let roundTrips = 0;
    for (const template of templates) {
      for (const source of sources) {
        let rendered: string;
        try {
          rendered = renderRepository(template, source);
        } catch (err) {
          expect(err).toBeInstanceOf(TemplateError);
          unrenderable.push(`${template} ${source}`);
          continue;
        }
        const back = sourceRepositoryFor(template, rendered);
        if (back === undefined) {
          ambiguous.push(`${template} ${source}`);
          continue;
        }
        expect(back).toBe(source);
        roundTrips++;
      }
    }
    // A top-level source leaves "{namespace}-" as a leading separator: not a valid name.
    expect(unrenderable).toEqual(['{namespace}-{name} app', '{namespace}-{name} ab']);
    // Only templates that glue namespace and name without a "/" lose the split.
    expect(ambiguous).toEqual([
      '{namespace}-{name} team-x/app', '{namespace}-{name} team/x-app',
      ...['app', 'team/app', 'team/sub/app', 'team-x/app', 'team/x-app', 'ab'].map((source) => `{namespace}{name} ${source}`),
    ]);
    expect(roundTrips).toBe(templates.length * sources.length - unrenderable.length - ambiguous.length);
  });
});
