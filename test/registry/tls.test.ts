// Per-registry TLS trust from ferry.yaml against a real HTTPS Distribution registry whose
// certificate a private CA signed: `tls.ca` as a file path or PEM text, `tls.verify: false`,
// and the one-line error (naming the fix) without the CA or with the wrong one.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../shared/config/schema.js';
import { createRegistryClients } from '../../shared/registry/clients.js';
import { RegistryError } from '../../shared/registry/errors.js';
import { createPrivateCa, type PrivateCa } from '../testbed/pki.js';
import { pushRandomImage, type TestImage } from '../testbed/images.js';
import { startRegistry, stopAllRegistries, type DistributionRegistry } from '../testbed/registries.js';

let ca: PrivateCa;
let otherCa: PrivateCa;
let registry: DistributionRegistry;
let image: TestImage;

beforeAll(async () => {
  [ca, otherCa] = await Promise.all([createPrivateCa('tls-config'), createPrivateCa('tls-config-other')]);
  registry = await startRegistry({ name: 'tls-config', tls: ca.server });
  image = await pushRandomImage(`${registry.host}/team/app:v1`, { layerSizes: [50_000] });
}, 120_000);

afterAll(async () => {
  await stopAllRegistries();
  await Promise.all([ca?.dispose(), otherCa?.dispose()]);
});

async function manifestDigestWith(tls: Record<string, unknown> | undefined): Promise<string | undefined> {
  const config = configSchema.parse({ registries: { secure: { url: registry.url, ...(tls ? { tls } : {}) } } });
  const clients = createRegistryClients(config);
  try {
    return (await clients.get('secure')!.getManifest('team/app', 'v1'))?.digest;
  } finally {
    await Promise.all([...clients.values()].map((c) => c.close()));
  }
}

describe('registries.<name>.tls', () => {
  it('trusts the CA given as a file path', async () => {
    expect(await manifestDigestWith({ ca: ca.caFile })).toBe(image.digest);
  });

  it('trusts the CA given as PEM text', async () => {
    expect(await manifestDigestWith({ ca: await readFile(ca.caFile, 'utf8') })).toBe(image.digest);
  });

  it('accepts any certificate with verify: false', async () => {
    expect(await manifestDigestWith({ verify: false })).toBe(image.digest);
  });

  it.each([
    ['without the CA', false],
    ['with the wrong CA', true],
  ])('%s fails at once, in one line naming the fix', async (_name, wrongCa) => {
    const error = await manifestDigestWith(wrongCa ? { ca: otherCa.caFile } : undefined).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryError);
    const { message, code } = error as RegistryError;
    expect(code).toBe('TLS_CERTIFICATE');
    expect(message).not.toContain('\n');
    expect(message).toMatch(/^GET https:\/\/127\.0\.0\.1:\d+\/v2\/\S* \(registry secure\) failed: TLS certificate not trusted \(\w+: .*\); trust its CA \(registry setting tls\.ca, or NODE_EXTRA_CA_CERTS\) or set tls\.verify: false$/);
  });

  it('names the setting when the CA file cannot be read', () => {
    const config = configSchema.parse({ registries: { secure: { url: registry.url, tls: { ca: '/nonexistent/ca.pem' } } } });
    expect(() => createRegistryClients(config)).toThrow(/^registries\.secure\.tls\.ca: cannot read CA file \/nonexistent\/ca\.pem \(ENOENT\)/);
  });
});
