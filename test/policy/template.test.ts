import { describe, expect, it } from 'vitest';
import { renderRepository, templateProblem, TemplateError } from '../../shared/policy/template.js';

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
