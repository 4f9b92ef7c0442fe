// openBackend picks the adapter the config names.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openBackend } from '../../shared/adapters/open.js';
import { DATABASE_FILE } from '../../shared/adapters/embedded/index.js';
import { configSchema } from '../../shared/config/schema.js';

let dir: string | undefined;
afterEach(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

describe('openBackend', () => {
  it('embedded (the default): a SQLite file in dataDir that a second opener shares', async () => {
    dir = mkdtempSync(join(tmpdir(), 'ferry-open-'));
    const config = configSchema.parse({ dataDir: join(dir, 'state'), registries: {} });
    const a = await openBackend(config);
    const b = await openBackend(config);
    try {
      expect(existsSync(join(dir, 'state', DATABASE_FILE))).toBe(true);
      await a.queue.send([{ jobId: 'j1', key: 'k' }]);
      expect((await b.queue.depth()).queued).toBe(1);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('aws without an aws section is a clear error', async () => {
    const config = { ...configSchema.parse({ registries: {} }), backend: 'aws' as const };
    await expect(openBackend(config)).rejects.toThrow(/aws section/);
  });
});
