import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startRegistries, stopAllRegistries } from './test/testbed/registries.js';
import { pushRandomImage } from './test/testbed/images.js';
const cache = process.argv[2] === 'cache';
const [src, dst] = await startRegistries(2, { blobDescriptorCache: cache });
const img = await pushRandomImage(`${src!.host}/team/app:v1`, { layerSizes: [60_000_000, 1_000] });
const d = img.layers[1]!.digest.slice(7);
await rm(join(src!.dataDir, 'docker/registry/v2/blobs/sha256', d.slice(0, 2), d, 'data'));
for (let i = 0; i < 3; i++) {
const r = await new Promise((res) => execFile(process.execPath, ['dist/cli.js', 'copy', '--insecure', `${src!.host}/team/app:v1`, `${dst!.host}/m/app${i}:v1`], { timeout: 60000 }, (e, so, se) => res({ code: e?.code ?? 0, so, se: se.slice(0, 400) })));
console.log(r);
}
await stopAllRegistries();
