// Destination repository templates: "mirror/{repository}", "{namespace}/prod/{name}", ...
// The rendered name goes straight into registry URLs, so it must pass the OCI grammar.
import { repositoryProblem } from '../oci/grammar.js';

export const TEMPLATE_PLACEHOLDERS = ['repository', 'name', 'namespace'] as const;
export type TemplatePlaceholder = (typeof TEMPLATE_PLACEHOLDERS)[number];

const PLACEHOLDER_RE = /\{([^{}]*)\}/g;

export class TemplateError extends Error {
  override readonly name = 'TemplateError';
  constructor(message: string, readonly template: string, readonly repository?: string) {
    super(message);
  }
}

/** "team/sub/app" -> { repository: "team/sub/app", namespace: "team/sub", name: "app" }. */
export function templateValues(repository: string): Record<TemplatePlaceholder, string> {
  const slash = repository.lastIndexOf('/');
  return {
    repository,
    namespace: slash < 0 ? '' : repository.slice(0, slash),
    name: slash < 0 ? repository : repository.slice(slash + 1),
  };
}

/** Placeholders the template uses that ferry does not know, e.g. ["repo"]. */
export function unknownPlaceholders(template: string): string[] {
  const unknown: string[] = [];
  for (const m of template.matchAll(PLACEHOLDER_RE)) {
    const key = m[1] ?? '';
    if (!(TEMPLATE_PLACEHOLDERS as readonly string[]).includes(key)) unknown.push(key);
  }
  return unknown;
}

/**
 * Renders the destination repository. An empty {namespace} (a top-level source repository)
 * would leave "//" or a leading "/", so empty path segments are dropped: "{namespace}/{name}"
 * for "app" is "app". Throws TemplateError when the result breaks the OCI grammar.
 */
export function renderRepository(template: string, repository: string): string {
  const unknown = unknownPlaceholders(template);
  if (unknown.length > 0) {
    throw new TemplateError(`unknown placeholder ${unknown.map((u) => `{${u}}`).join(', ')} in ${JSON.stringify(template)} (known: {repository}, {namespace}, {name})`, template, repository);
  }
  const values = templateValues(repository);
  const rendered = template
    .replace(PLACEHOLDER_RE, (_all, key: string) => values[key as TemplatePlaceholder])
    .split('/')
    .filter((segment) => segment.length > 0)
    .join('/');
  const problem = repositoryProblem(rendered);
  if (problem) throw new TemplateError(`template ${JSON.stringify(template)} renders ${JSON.stringify(repository)} as an invalid name: ${problem}`, template, repository);
  return rendered;
}

/**
 * Why a template can never render a valid name, or undefined. Checked at config load with
 * sample repositories, so typos fail at start rather than on the first event.
 */
export function templateProblem(template: string): string | undefined {
  const unknown = unknownPlaceholders(template);
  if (unknown.length > 0) return `unknown placeholder ${unknown.map((u) => `{${u}}`).join(', ')} (known: {repository}, {namespace}, {name})`;
  if (/[{}]/.test(template.replace(PLACEHOLDER_RE, ''))) return `unbalanced braces in ${JSON.stringify(template)}`;
  for (const sample of ['team/app', 'app']) {
    try {
      renderRepository(template, sample);
    } catch {
      return `${JSON.stringify(template)} renders ${JSON.stringify(sample)} as an invalid repository name (lowercase letters, digits, separators . _ __ -, components joined by /)`;
    }
  }
  return undefined;
}
