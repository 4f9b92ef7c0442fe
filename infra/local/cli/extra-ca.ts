// What NODE_EXTRA_CA_CERTS does, paid for on the first TLS connection instead of at start-up
// (bin/ferry explains why). Registry connections get the certificates from their own
// contexts (shared/registry/tls-trust.ts); every other TLS context created without an
// explicit `ca` (AWS SDK calls, ...) gets them here, so ferry trusts what Node would.
import nodeTls, { type SecureContext, type SecureContextOptions } from 'node:tls';
import { deferNodeExtraCaCerts, deferredExtraCertificates, trustingContext } from '../../../shared/registry/tls-trust.js';

type Tls = typeof nodeTls;

/**
 * Makes `tls.createSecureContext` (used by tls.connect and https) add the certificates of
 * `file` that Node's roots lack. A file that cannot be read is reported once on stderr and
 * ignored, as Node does. Returns how to undo it.
 */
export function trustExtraCaCertsLazily(file: string, tls: Tls = nodeTls): () => void {
  deferNodeExtraCaCerts(file);
  const original = tls.createSecureContext;
  tls.createSecureContext = (options?: SecureContextOptions): SecureContext => {
    if (options?.ca !== undefined) return original(options);
    return trustingContext(deferredExtraCertificates(tls), () => original(options), tls);
  };
  return () => {
    tls.createSecureContext = original;
  };
}
