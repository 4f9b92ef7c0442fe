// Keep-alive against a real HTTPS Distribution registry: every TLS handshake costs both sides
// milliseconds of CPU, so ferry's connections to a registry must be reused: after HEADs
// (which undici closes by default) and after idle spells with no request in flight (when
// undici's Agent used to drop an origin's whole pool).
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../shared/config/schema.js';
import { createRegistryClients } from '../../shared/registry/clients.js';
import { createPrivateCa, type PrivateCa } from '../testbed/pki.js';
import { pushRandomImage, type TestImage } from '../testbed/images.js';
import { startRegistry, stopAllRegistries, type DistributionRegistry } from '../testbed/registries.js';

let ca: PrivateCa;
let registry: DistributionRegistry;
let image: TestImage;

beforeAll(async () => {
  ca = await createPrivateCa('connections');
  registry = await startRegistry({ name: 'connections', tls: ca.server });
  image = await pushRandomImage(`${registry.host}/team/app:v1`, { layerSizes: [10_000, 20_000, 30_000, 40_000] });
}, 120_000);

afterAll(async () => {
  await stopAllRegistries();
  await ca?.dispose();
});

/** Runs `work` and counts the TLS connections ferry opened meanwhile. */
async function connectionsDuring(work: () => Promise<void>): Promise<number> {
  let opened = 0;
  const onConnected = (): void => {
    opened++;
  };
  subscribe('undici:client:connected', onConnected);
  try {
    await work();
  } finally {
    unsubscribe('undici:client:connected', onConnected);
  }
  return opened;
}

describe('connections to a registry', () => {
  it('blob HEADs one after another, and the GET after them, reuse one connection', async () => {
    const clients = createRegistryClients(configSchema.parse({ registries: { r: { url: registry.url, tls: { ca: ca.caFile } } } }));
    const client = clients.get('r')!;
    try {
      expect((await client.getManifest('team/app', 'v1'))?.digest).toBe(image.digest);
      const opened = await connectionsDuring(async () => {
        for (const layer of image.layers) expect(await client.headBlob('team/app', layer.digest)).toEqual({ size: layer.size });
        expect((await client.getManifest('team/app', 'v1'))?.digest).toBe(image.digest);
      });
      expect(opened).toBeLessThanOrEqual(1);
    } finally {
      await client.close();
    }
  });

  it('connections opened for parallel HEADs are reused by the next round after an idle spell', async () => {
    const clients = createRegistryClients(configSchema.parse({ registries: { r: { url: registry.url, tls: { ca: ca.caFile } } } }));
    const client = clients.get('r')!;
    const headAll = async (): Promise<void> => {
      await Promise.all(image.layers.map((layer) => client.headBlob('team/app', layer.digest)));
    };
    try {
      await client.getManifest('team/app', 'v1');
      const first = await connectionsDuring(headAll);
      expect(first).toBeGreaterThan(1);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(await connectionsDuring(headAll)).toBe(0);
    } finally {
      await client.close();
    }
  });
});
