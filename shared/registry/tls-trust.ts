// Which certificates a registry connection trusts, as one SecureContext per distinct
// configuration, built once and shared by every connection that uses it: building a context
// from a full CA bundle costs tens of milliseconds, and a shared context also lets TLS
// sessions be resumed across connections.
import { readFileSync } from 'node:fs';
import type { SecureContext } from 'node:tls';
import nodeTls from 'node:tls';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

/** The certificates of a PEM text (anything between the blocks ignored). */
export function pemCertificates(text: string): string[] {
  return text.match(PEM_CERTIFICATE) ?? [];
}

let extraCertificates: string[] | undefined;

/**
 * The certificates of NODE_EXTRA_CA_CERTS, read once. Node adds them to its default trust
 * but not to `tls.rootCertificates`, so a context with its own `ca` list must add them too.
 */
function nodeExtraCertificates(): string[] {
  if (extraCertificates === undefined) {
    const file = process.env.NODE_EXTRA_CA_CERTS;
    extraCertificates = [];
    if (file) {
      try {
        extraCertificates = pemCertificates(readFileSync(file, 'utf8'));
      } catch {
        // Node itself warned at start-up (or the CLI's deferred loader will): trust the rest.
      }
    }
  }
  return extraCertificates;
}

const contexts = new Map<string, SecureContext>();

/**
 * The context for a registry: Node's default trust (bundled roots plus NODE_EXTRA_CA_CERTS),
 * plus `extraCa` (PEM certificates) when given. Cached for the life of the process.
 */
export function registrySecureContext(extraCa: readonly string[] = [], tls: typeof nodeTls = nodeTls): SecureContext {
  const key = extraCa.join('\n');
  let context = contexts.get(key);
  if (!context) {
    context = extraCa.length === 0
      ? tls.createSecureContext()
      : tls.createSecureContext({ ca: [...tls.rootCertificates, ...nodeExtraCertificates(), ...extraCa] });
    contexts.set(key, context);
  }
  return context;
}
