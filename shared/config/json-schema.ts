// The published JSON Schema of ferry.yaml (editor completion), generated from the zod
// schema so the two cannot drift. scripts/gen-schema.ts writes it to ferry.schema.json.
import * as z from 'zod';
import { configSchema } from './schema.js';

export type JsonSchema = Record<string, unknown>;

export function configJsonSchema(): JsonSchema {
  const generated = z.toJSONSchema(configSchema, { io: 'input' }) as JsonSchema;
  return {
    ...generated,
    title: 'ferry.yaml',
    description: 'Configuration of ferry, the container registry replication service. Durations: 500ms, 5s, 15m, 1h or seconds; bandwidth: bytes/s or e.g. 50MiB/s.',
  };
}

export function configJsonSchemaText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}

/** Keys allowed at a path of the config, read from the JSON Schema; undefined when unknown. */
export function allowedKeysAt(schema: JsonSchema, path: readonly PropertyKey[]): string[] | undefined {
  let nodes: JsonSchema[] = [schema];
  for (const segment of path) {
    const next: JsonSchema[] = [];
    for (const node of nodes.flatMap(alternatives)) {
      if (typeof segment === 'number') {
        if (isSchema(node.items)) next.push(node.items);
      } else {
        const props = node.properties;
        if (isSchema(props) && isSchema(props[String(segment)])) next.push(props[String(segment)] as JsonSchema);
        else if (isSchema(node.additionalProperties)) next.push(node.additionalProperties);
      }
    }
    nodes = next;
  }
  const keys = nodes.flatMap(alternatives).flatMap((n) => (isSchema(n.properties) ? Object.keys(n.properties) : []));
  return keys.length > 0 ? [...new Set(keys)] : undefined;
}

function alternatives(node: JsonSchema): JsonSchema[] {
  const out: JsonSchema[] = [node];
  for (const k of ['anyOf', 'oneOf', 'allOf'] as const) {
    const list = node[k];
    if (Array.isArray(list)) out.push(...list.filter(isSchema).flatMap(alternatives));
  }
  return out;
}

function isSchema(value: unknown): value is JsonSchema {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
