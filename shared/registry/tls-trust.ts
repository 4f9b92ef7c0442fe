// Which certificates a registry connection trusts, as one SecureContext per distinct
// configuration, built once and shared by every connection that uses it (a shared context
// also lets TLS sessions be resumed). Building a context from a CA bundle parses every
// certificate (150-250 ms for Node's roots plus a system bundle on a busy 2-core machine), so
// contexts start from Node's default trust and only the certificates it lacks are added.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SecureContext } from 'node:tls';
import nodeTls from 'node:tls';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

/** The certificates of a PEM text (anything between the blocks ignored). */
export function pemCertificates(text: string): string[] {
  return text.match(PEM_CERTIFICATE) ?? [];
}

/** A certificate's identity for de-duplication: its base64 body without line breaks. */
function body(pem: string): string {
  return pem.replace(/-----[A-Z ]+-----|\s/g, '');
}

let deferredFile: string | undefined;
let deferredCertificates: string[] | undefined;

/**
 * NODE_EXTRA_CA_CERTS that Node did not load at start-up (bin/ferry moves it aside): its
 * certificates are added to every registry context instead, read on first use.
 */
export function deferNodeExtraCaCerts(file: string): void {
  deferredFile = file;
  deferredCertificates = undefined;
}

/** The deferred certificates Node's bundled roots lack (a system bundle repeats most of them). */
export function deferredExtraCertificates(tls: typeof nodeTls = nodeTls): string[] {
  if (deferredCertificates === undefined) {
    deferredCertificates = [];
    if (deferredFile !== undefined) {
      let text = '';
      try {
        text = readFileSync(deferredFile, 'utf8');
      } catch (e) {
        process.emitWarning(`Ignoring extra certs from \`${deferredFile}\`, load failed: ${(e as Error).message}`);
      }
      const roots = new Set(tls.rootCertificates.map(body));
      deferredCertificates = pemCertificates(text).filter((pem) => !roots.has(body(pem)));
    }
  }
  return deferredCertificates;
}

interface NativeContext {
  addCACert?: (pem: string) => void;
}

/**
 * Node's default trust plus `extra` (PEM certificates). Adding to a default context copies
 * the root store once instead of parsing every root again; Node's own `ca` option, the
 * fallback, replaces the default trust and so needs the whole list.
 */
export function trustingContext(extra: readonly string[], create: typeof nodeTls.createSecureContext, tls: typeof nodeTls = nodeTls): SecureContext {
  const context = create();
  if (extra.length === 0) return context;
  const native = (context as { context?: NativeContext }).context;
  if (typeof native?.addCACert === 'function') {
    for (const pem of extra) native.addCACert(pem);
    return context;
  }
  return create({ ca: [...tls.rootCertificates, ...extra] });
}

const contexts = new Map<string, SecureContext>();
/** Node's own, captured before the CLI wraps it (infra/local/cli/extra-ca.ts) to add the same certificates. */
const createSecureContext = nodeTls.createSecureContext;

/**
 * The context for a registry: Node's default trust (bundled roots plus NODE_EXTRA_CA_CERTS,
 * also when deferred), plus `extraCa` (PEM certificates). Cached for the life of the process.
 */
export function registrySecureContext(extraCa: readonly string[] = [], tls: typeof nodeTls = nodeTls): SecureContext {
  const key = extraCa.join('\n');
  let context = contexts.get(key);
  if (!context) {
    const create = tls === nodeTls ? createSecureContext : tls.createSecureContext;
    context = trustingContext([...deferredExtraCertificates(tls), ...extraCa], create, tls);
    contexts.set(key, context);
  }
  return context;
}

/**
 * A `tls.ca` setting: PEM text as is, anything else a path of a PEM file. Throws, naming
 * `where` (the config path or flag), when the file cannot be read or holds no certificate.
 */
export function loadCaSetting(value: string, where: string): string[] {
  const text = value.includes('-----BEGIN CERTIFICATE-----') ? value : readCaFile(value, where);
  const certificates = pemCertificates(text);
  if (certificates.length === 0) throw new Error(`${where}: no PEM certificate in ${value.includes('-----BEGIN') ? 'the text given' : value}`);
  return certificates;
}

function readCaFile(path: string, where: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`${where}: cannot read CA file ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); give PEM text or a readable file`);
  }
}

/**
 * The CA certificates of a directory as skopeo's `--cert-dir` reads it: every `*.crt` file.
 * (Client certificate pairs, `*.cert` + `*.key`, are not supported.)
 */
export function loadCertDir(dir: string, where: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((name) => name.endsWith('.crt')).sort();
  } catch (e) {
    throw new Error(`${where}: cannot read directory ${dir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const certificates = names.flatMap((name) => pemCertificates(readCaFile(join(dir, name), where)));
  if (certificates.length === 0) throw new Error(`${where}: no *.crt file with a PEM certificate in ${dir}`);
  return certificates;
}
