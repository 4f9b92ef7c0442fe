// The folders of shared/ form layers: a folder may use the ones below it, never one that
// uses it back. A cycle between folders means neither can be read, tested or replaced
// alone, so this walks every import (type-only too) and fails on any folder cycle.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../shared');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** The top folder of shared/ a file belongs to ("" for files directly in shared/). */
function folderOf(file: string): string {
  const parts = relative(root, file).split(sep);
  return parts.length > 1 ? (parts[0] ?? '') : '';
}

/** folder -> folders it imports, with one example import per edge for the failure message. */
function folderGraph(): Map<string, Map<string, string>> {
  const graph = new Map<string, Map<string, string>>();
  for (const file of sourceFiles(root)) {
    const from = folderOf(file);
    const edges = graph.get(from) ?? new Map<string, string>();
    graph.set(from, edges);
    for (const imported of ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles) {
      if (!imported.fileName.startsWith('.')) continue;
      const target = resolve(dirname(file), imported.fileName);
      if (!target.startsWith(root + sep)) continue;
      const to = folderOf(target);
      if (to !== from && !edges.has(to)) edges.set(to, `${relative(root, file)} imports ${imported.fileName}`);
    }
  }
  return graph;
}

/** At least one cycle per group of folders that reach each other: enough to act on. */
function findCycles(graph: Map<string, Map<string, string>>): string[][] {
  const cycles: string[][] = [];
  const done = new Set<string>();
  const visit = (node: string, path: string[]) => {
    const at = path.indexOf(node);
    if (at >= 0) {
      cycles.push([...path.slice(at), node]);
      return;
    }
    if (done.has(node)) return;
    for (const next of graph.get(node)?.keys() ?? []) visit(next, [...path, node]);
    done.add(node);
  };
  for (const node of graph.keys()) visit(node, []);
  return cycles;
}

describe('shared/ folder layering', () => {
  it('sees the imports it checks (the walk is not vacuous)', () => {
    const graph = folderGraph();
    expect(graph.size).toBeGreaterThan(5);
    expect(graph.get('replicate')?.has('registry')).toBe(true);
  });

  it('has no import cycle between folders', () => {
    const graph = folderGraph();
    const described = findCycles(graph).map((cycle) =>
      cycle.slice(1).map((to, i) => `${cycle[i]} -> ${to} (${graph.get(cycle[i] ?? '')?.get(to)})`).join('; '));
    expect(described).toEqual([]);
  });

  it('detects a cycle when there is one', () => {
    const graph = new Map([['a', new Map([['b', 'x']])], ['b', new Map([['c', 'y']])], ['c', new Map([['a', 'z']])]]);
    expect(findCycles(graph)).toEqual([['a', 'b', 'c', 'a']]);
  });
});
