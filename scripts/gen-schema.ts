// Regenerates ferry.schema.json from the zod config schema: `npm run schema`.
// test/config/json-schema.test.ts fails when the checked-in file is stale.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { configJsonSchemaText } from '../shared/config/json-schema.js';

const target = fileURLToPath(new URL('../ferry.schema.json', import.meta.url));
writeFileSync(target, configJsonSchemaText());
process.stdout.write(`wrote ${target}\n`);
