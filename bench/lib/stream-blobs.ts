// One measurement for bench/http-client.ts, in a process of its own: streams the given blob
// URLs at once with one HTTP client, hashing every byte (as a copy does), and prints
// {client, bytes, seconds, cpuSeconds} for the streaming alone (module loading excluded).
//   node --import tsx bench/lib/stream-blobs.ts <ferry|undici|node-http> URL...

import { createHash } from 'node:crypto';
import http from 'node:http';
import type { Readable } from 'node:stream';
import { Agent } from 'undici';
import { Transport } from '../../shared/registry/transport.js';

type Client = 'ferry' | 'undici' | 'node-http';

async function openWith(client: Client, url: URL): Promise<Readable> {
  switch (client) {
    case 'ferry':
      return (await (ferry ??= new Transport({ registry: 'bench', url: url.origin, concurrency: 16 })).request({ url, method: 'GET', lane: 'download' })).body;
    case 'undici':
      return (await undici.request({ origin: url.origin, path: url.pathname, method: 'GET' })).body;
    case 'node-http':
      return new Promise((resolve, reject) => http.get(url, { agent: nodeAgent }, resolve).on('error', reject));
  }
}

let ferry: Transport | undefined;
const undici = new Agent({ connections: 16 });
const nodeAgent = new http.Agent({ keepAlive: true });

async function main(): Promise<void> {
  const [client, ...urls] = process.argv.slice(2) as [Client, ...string[]];
  if (!['ferry', 'undici', 'node-http'].includes(client) || urls.length === 0) throw new Error('usage: stream-blobs.ts <ferry|undici|node-http> URL...');
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  let bytes = 0;
  await Promise.all(urls.map(async (u) => {
    const body = await openWith(client, new URL(u));
    const hash = createHash('sha256');
    body.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
    });
    await new Promise<void>((resolve, reject) => {
      body.on('end', resolve);
      body.on('error', reject);
    });
    hash.digest();
  }));
  const used = process.cpuUsage(cpu);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  process.stdout.write(`${JSON.stringify({ client, bytes, seconds, cpuSeconds: (used.user + used.system) / 1e6 })}\n`);
  await Promise.all([ferry?.close(), undici.close()]);
  nodeAgent.destroy();
}

await main();
