// What a Distribution registry's access log (combined log format, on in the test bed) says
// about blob uploads: each completed upload is a PUT .../blobs/uploads/<id>?...digest=D
// answered 201, whatever carried the bytes (that PUT, or PATCHes before it).
import { readFile } from 'node:fs/promises';

export interface BlobTraffic {
  /** Completed uploads per digest. */
  uploads: Map<string, number>;
  /** Cross-repository mounts answered 201. */
  mounts: number;
  /** Requests in the log. */
  requests: number;
}

export async function blobTraffic(logFile: string): Promise<BlobTraffic> {
  const uploads = new Map<string, number>();
  let mounts = 0;
  let requests = 0;
  for (const line of (await readFile(logFile, 'utf8')).split('\n')) {
    const m = /"([A-Z]+) (\S+) HTTP\/1\.1" (\d{3}) /.exec(line);
    if (!m) continue;
    requests += 1;
    const [, method, path, status] = m as unknown as [string, string, string, string];
    if (method === 'PUT' && status === '201' && path.includes('/blobs/uploads/')) {
      const digest = /[?&]digest=sha256(?:%3A|:)([0-9a-f]{64})/i.exec(path);
      if (digest) uploads.set(`sha256:${digest[1]}`, (uploads.get(`sha256:${digest[1]}`) ?? 0) + 1);
    }
    if (method === 'POST' && status === '201' && path.includes('mount=')) mounts += 1;
  }
  return { uploads, mounts, requests };
}
