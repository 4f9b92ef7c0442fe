// A private certificate authority for HTTPS registries in tests and benchmarks: a CA
// certificate, and a server certificate for 127.0.0.1/localhost it signed (openssl, EC P-256).
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile, copyFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface PrivateCa {
  dir: string;
  /** The CA certificate (PEM): what a client must trust. */
  caFile: string;
  /** A directory holding only `ca.crt`, as skopeo's and ferry's `--*-cert-dir` read it. */
  certDir: string;
  /** Server certificate and key for a registry on 127.0.0.1 (`tls` option of startRegistry). */
  server: { certificate: string; key: string };
  dispose(): Promise<void>;
}

async function openssl(args: string[]): Promise<void> {
  await run('openssl', args);
}

export async function createPrivateCa(name = 'ferry-test'): Promise<PrivateCa> {
  const dir = await mkdtemp(join(tmpdir(), `${name}-ca-`));
  const caKey = join(dir, 'ca.key');
  const caFile = join(dir, 'ca.pem');
  await openssl([
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', `/CN=${name} private CA`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    '-keyout', caKey, '-out', caFile,
  ]);
  const key = join(dir, 'server.key');
  const csr = join(dir, 'server.csr');
  const certificate = join(dir, 'server.pem');
  await openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', key, '-out', csr]);
  const ext = join(dir, 'server.ext');
  await writeFile(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
  await openssl(['x509', '-req', '-in', csr, '-CA', caFile, '-CAkey', caKey, '-CAcreateserial', '-days', '2', '-extfile', ext, '-out', certificate]);
  const certDir = join(dir, 'certs.d');
  await mkdir(certDir);
  await copyFile(caFile, join(certDir, 'ca.crt'));
  return {
    dir, caFile, certDir, server: { certificate, key },
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}
