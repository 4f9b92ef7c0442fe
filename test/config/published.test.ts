// The files users read: the JSON Schema for editors and the commented example config.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { configJsonSchemaText } from '../../shared/config/json-schema.js';
import { loadConfig } from '../../shared/config/load.js';
import { configSchema } from '../../shared/config/schema.js';

const root = new URL('../../', import.meta.url);

describe('ferry.schema.json', () => {
  it('is exactly what `npm run schema` generates from the zod schema (regenerate when this fails)', async () => {
    const checkedIn = await readFile(new URL('ferry.schema.json', root), 'utf8');
    expect(checkedIn).toBe(configJsonSchemaText());
  });

  it('describes the input form: durations and bandwidth accept strings or numbers, defaults are listed', () => {
    const schema = JSON.parse(configJsonSchemaText()) as { properties: Record<string, { properties?: Record<string, unknown> }> };
    const worker = schema.properties.worker!.properties!;
    expect(worker.retryDelay).toMatchObject({ anyOf: [{ type: 'string' }, { type: 'number' }] });
    expect(worker.concurrency).toMatchObject({ type: 'integer', default: 3 });
    expect(schema.properties).toHaveProperty('registries');
  });
});

describe('ferry.example.yaml', () => {
  const env = { SRC_PASSWORD: 'p', SRC_HOOK_SECRET: 's', HARBOR_TOKEN: 't', HARBOR_HOOK_SECRET: 'h', HUB_HOOK_SECRET: 'x', JFROG_TOKEN: 'j', JFROG_HOOK_SECRET: 'k', FERRY_ADMIN_TOKEN: 'a' };

  it('loads without errors', async () => {
    const config = await loadConfig(new URL('ferry.example.yaml', root).pathname, env);
    expect(config.policies.map((p) => p.name)).toEqual(['team-mirror', 'harbor-to-dr']);
    expect(config.worker.retryDelay).toBe(5000);
    expect(config.retention).toBe(30 * 24 * 3600 * 1000);
  });

  it('sets every option the schema has, so it documents all of them', async () => {
    const text = await readFile(new URL('ferry.example.yaml', root), 'utf8');
    const keysOf = (shape: Record<string, unknown>) => Object.keys(shape);
    const topLevel = keysOf(configSchema.def.shape as Record<string, unknown>);
    const schema = JSON.parse(configJsonSchemaText()) as Record<string, unknown>;
    // Every property name anywhere in the JSON Schema appears as a key in the example.
    const names = new Set<string>(topLevel);
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) { node.forEach(walk); return; }
      if (node === null || typeof node !== 'object') return;
      const props = (node as { properties?: Record<string, unknown> }).properties;
      if (props) for (const k of Object.keys(props)) names.add(k);
      Object.values(node).forEach(walk);
    };
    walk(schema);
    const missing = [...names].filter((name) => !new RegExp(`(^|[\\s{,])${name}:`, 'm').test(text));
    expect(missing).toEqual([]);
  });
});
