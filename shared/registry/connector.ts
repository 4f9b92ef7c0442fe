// How a registry's connections are opened (undici connectors), trust included. Verifying a
// certificate against Node's bundled roots first parses all of them (about 50 ms of CPU on a
// quiet core, several times that on a busy one), once per process: a registry with its own
// CA is tried against that CA alone, and the full trust (roots, NODE_EXTRA_CA_CERTS, the CA)
// is built only when that fails or for other hosts (blob storage a registry redirects to).
// Unverified connections need no roots at all.
import type { LookupFunction } from 'node:net';
import nodeTls from 'node:tls';
import { buildConnector, type Connector, type ConnectorOptions } from './undici.js';
import { registrySecureContext } from './tls-trust.js';

export interface TrustOptions {
  /** Hostname of the registry itself (where `ca` applies first). */
  registryHost: string;
  /** Extra CA certificates (PEM). */
  ca: readonly string[];
  verify: boolean;
  connectTimeoutMs: number;
  /** Resolves host names for these connections (a guarded lookup for redirect targets). */
  lookup?: LookupFunction;
}

/** What OpenSSL says when no trusted chain was found: worth a second try with the full trust. */
const UNTRUSTED = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'UNABLE_TO_GET_ISSUER_CERT']);

export interface RegistryTrust {
  /** The connector for direct connections. */
  connect: Connector;
  /** TLS options for connections tunnelled through a proxy (the full trust). */
  tunnelTls(): ConnectorOptions;
}

export function registryTrust(options: TrustOptions): RegistryTrust {
  const base = { timeout: options.connectTimeoutMs, ...(options.lookup ? { lookup: options.lookup } : {}) };
  if (!options.verify) {
    // `ca: []`: a context without any root, built in microseconds; nothing is checked anyway.
    const tls = { secureContext: nodeTls.createSecureContext({ ca: [] }), rejectUnauthorized: false };
    const connect = buildConnector({ ...base, ...tls });
    return { connect, tunnelTls: () => tls };
  }
  let full: Connector | undefined;
  const fullTls = (): ConnectorOptions => ({ secureContext: registrySecureContext(options.ca) });
  const fullConnect = (): Connector => (full ??= buildConnector({ ...base, ...fullTls() }));
  if (options.ca.length === 0) return { connect: (o, cb) => fullConnect()(o, cb), tunnelTls: fullTls };
  const narrow = buildConnector({ ...base, secureContext: nodeTls.createSecureContext({ ca: [...options.ca] }) });
  const connect: Connector = (o, callback) => {
    if (o.protocol !== 'https:' || o.hostname !== options.registryHost) {
      fullConnect()(o, callback);
      return;
    }
    narrow(o, (...args) => {
      const [error] = args;
      const code = (error as { code?: unknown } | null)?.code;
      if (error && typeof code === 'string' && UNTRUSTED.has(code)) fullConnect()(o, callback);
      else callback(...args);
    });
  };
  return { connect, tunnelTls: fullTls };
}
