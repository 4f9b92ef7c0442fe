import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEmbeddedBackend } from '../../shared/adapters/embedded/index.js';
import { describeBackendContract } from './backend-contract.js';
import { createManualClock } from './manual-clock.js';

describeBackendContract('embedded (SQLite)', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ferry-contract-'));
  const clock = createManualClock();
  const backend = openEmbeddedBackend({ dataDir, clock });
  return {
    ...backend,
    clock,
    reopen: async () => openEmbeddedBackend({ dataDir, clock }),
    close: async () => {
      await backend.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
});
