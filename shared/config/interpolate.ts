// ${env:NAME} in any string value. Done after YAML parsing, so secrets containing YAML
// syntax (":", "#", quotes) cannot change the document's structure.

const REFERENCE_RE = /\$\{env:([^}]*)\}/g;
const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

export type Env = Record<string, string | undefined>;

export interface InterpolationProblem {
  path: PropertyKey[];
  message: string;
}

export interface Interpolated {
  value: unknown;
  problems: InterpolationProblem[];
}

export function interpolateEnv(value: unknown, env: Env): Interpolated {
  const problems: InterpolationProblem[] = [];
  const walk = (node: unknown, path: PropertyKey[]): unknown => {
    if (typeof node === 'string') return interpolateString(node, env, (message) => problems.push({ path, message }));
    if (Array.isArray(node)) return node.map((item, i) => walk(item, [...path, i]));
    if (node !== null && typeof node === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(node)) out[k] = walk(v, [...path, k]);
      return out;
    }
    return node;
  };
  return { value: walk(value, []), problems };
}

function interpolateString(text: string, env: Env, problem: (message: string) => void): string {
  return text.replace(REFERENCE_RE, (whole, name: string) => {
    if (!NAME_RE.test(name)) {
      problem(`invalid reference ${whole}: use \${env:NAME} with NAME made of letters, digits and _`);
      return whole;
    }
    const resolved = env[name];
    if (resolved === undefined) {
      problem(`environment variable ${name} is not set (referenced as ${whole})`);
      return whole;
    }
    return resolved;
  });
}
