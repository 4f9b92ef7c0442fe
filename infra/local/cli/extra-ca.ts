// What NODE_EXTRA_CA_CERTS does, paid for on the first TLS connection instead of at start-up
// (bin/ferry explains why). Every TLS context created without an explicit `ca` trusts Node's
// bundled roots plus the certificates in the file, as Node itself would; the certificates
// are read once, and contexts for the same options are built once and shared.
import { readFileSync } from 'node:fs';
import nodeTls, { type SecureContext, type SecureContextOptions } from 'node:tls';

type Tls = typeof nodeTls;

/** Options that change a context; anything else passed to tls.connect is per connection. */
const CONTEXT_OPTIONS = [
  'ca', 'cert', 'key', 'pfx', 'passphrase', 'ciphers', 'ecdhCurve', 'dhparam', 'honorCipherOrder', 'secureOptions',
  'secureProtocol', 'minVersion', 'maxVersion', 'sigalgs', 'privateKeyIdentifier', 'privateKeyEngine', 'crl',
  'clientCertEngine', 'ticketKeys', 'sessionTimeout', 'sessionIdContext',
] as const;

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g;

/**
 * Makes `tls.createSecureContext` (used by tls.connect and https) add the certificates of
 * `file` to the default trust. A file that cannot be read is reported once on stderr and
 * ignored, as Node does. Returns how to undo it.
 */
export function trustExtraCaCertsLazily(file: string, tls: Tls = nodeTls): () => void {
  const original = tls.createSecureContext;
  let trusted: string[] | undefined;
  let shared: SecureContext | undefined;
  const trust = (): string[] => {
    if (trusted === undefined) {
      let extra: string[] = [];
      try {
        extra = readFileSync(file, 'utf8').match(PEM_CERTIFICATE) ?? [];
      } catch (e) {
        process.emitWarning(`Ignoring extra certs from \`${file}\`, load failed: ${(e as Error).message}`);
      }
      trusted = [...tls.rootCertificates, ...extra];
    }
    return trusted;
  };
  tls.createSecureContext = (options?: SecureContextOptions): SecureContext => {
    if (options?.ca !== undefined) return original(options);
    const relevant = CONTEXT_OPTIONS.filter((name) => options?.[name] !== undefined);
    if (relevant.length > 0) return original({ ...options, ca: trust() });
    shared ??= original({ ca: trust() });
    return shared;
  };
  return () => {
    tls.createSecureContext = original;
  };
}
