// Destination repository templates, part of the config language (a policy's destination
// repository): "mirror/{repository}", "{namespace}/prod/{name}", ...
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

const NS = '\u0001';
const NAME = '\u0002';
const REPO = '\u0003';

/** The template with its placeholders as single marker characters, empty segments dropped (as rendering drops them). */
function normalizedWithMarkers(template: string, values: Partial<Record<TemplatePlaceholder, string>>): string {
  return template
    .replace(PLACEHOLDER_RE, (_all, key: string) => values[key as TemplatePlaceholder] ?? '')
    .split('/')
    .filter((segment) => segment.length > 0)
    .join('/');
}

/** `text` = prefix + middle + suffix: the middle, or undefined. */
function between(text: string, prefix: string, suffix: string): string | undefined {
  if (text.length < prefix.length + suffix.length || !text.startsWith(prefix) || !text.endsWith(suffix)) return undefined;
  return text.slice(prefix.length, text.length - suffix.length);
}

/**
 * The source repository `template` renders as `destinationRepository`, when exactly one
 * source repository does; undefined otherwise (including templates that lose information:
 * only {name}, {namespace} without {name}, {repository} twice, a literal template, ...).
 * Invertible shapes: {repository} exactly once (and no other placeholder), or {namespace}
 * then {name}, once each (and no {repository}), with any literal text around them. Every
 * answer is checked by rendering it again; an ambiguous split ("{namespace}-{name}" for
 * "a-b-c") gives undefined.
 */
export function sourceRepositoryFor(template: string, destinationRepository: string): string | undefined {
  if (unknownPlaceholders(template).length > 0) return undefined;
  const keys = [...template.matchAll(PLACEHOLDER_RE)].map((m) => m[1] as TemplatePlaceholder);
  const count = (key: TemplatePlaceholder) => keys.filter((k) => k === key).length;
  const candidates = new Set<string>();

  if (count('repository') === 1 && keys.length === 1) {
    // A source repository has no empty segments, so rendering is prefix + repository + suffix.
    const [prefix, suffix] = normalizedWithMarkers(template, { repository: REPO }).split(REPO) as [string, string];
    const middle = between(destinationRepository, prefix, suffix);
    if (middle !== undefined) candidates.add(middle);
  } else if (count('namespace') === 1 && count('name') === 1 && keys.length === 2 && keys[0] === 'namespace') {
    // Non-empty namespace: prefix + namespace + infix + name + suffix, every split tried.
    const [prefix, rest] = normalizedWithMarkers(template, { namespace: NS, name: NAME }).split(NS) as [string, string];
    const [infix, suffix] = rest.split(NAME) as [string, string];
    const middle = between(destinationRepository, prefix, suffix);
    if (middle !== undefined) {
      for (let i = 1; i + infix.length < middle.length; i++) {
        if (!middle.startsWith(infix, i)) continue;
        const name = middle.slice(i + infix.length);
        if (!name.includes('/')) candidates.add(`${middle.slice(0, i)}/${name}`);
      }
    }
    // Top-level source repository: an empty namespace, whose empty segments rendering drops.
    const [prefix0, suffix0] = normalizedWithMarkers(template, { name: NAME }).split(NAME) as [string, string];
    const name = between(destinationRepository, prefix0, suffix0);
    if (name !== undefined && name.length > 0 && !name.includes('/')) candidates.add(name);
  } else {
    return undefined;
  }

  const verified = [...candidates].filter((candidate) => {
    if (repositoryProblem(candidate)) return false;
    try {
      return renderRepository(template, candidate) === destinationRepository;
    } catch {
      return false;
    }
  });
  return verified.length === 1 ? verified[0] : undefined;
}
