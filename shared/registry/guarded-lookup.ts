// Name resolution for connections to redirect targets, with the redirect policy applied to
// every address the name resolves to, in the same lookup the socket then connects with: no
// second resolution between the check and the connect for DNS rebinding to slip into.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { addressProblem, type RedirectPolicy } from './redirect-policy.js';

/** dns.lookup with `all: true` (the port, so tests can answer for made-up names). */
export type ResolveAll = (hostname: string, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

export const systemResolveAll: ResolveAll = (hostname, callback) => dnsLookup(hostname, { all: true }, callback);

/** Code of the error a refused target fails its connection with (transport.ts maps it). */
export const REDIRECT_REFUSED_CODE = 'ERR_FERRY_REDIRECT_REFUSED';

export class RedirectRefusedError extends Error {
  override readonly name = 'RedirectRefusedError';
  readonly code = REDIRECT_REFUSED_CODE;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for net/tls.connect (undici's `connect.lookup`): addresses the policy refuses
 * are dropped; a name left with none fails the connection with a RedirectRefusedError.
 */
export function guardedLookup(policy: () => Promise<RedirectPolicy>, resolveAll: ResolveAll = systemResolveAll) {
  return (hostname: string, options: { all?: boolean | undefined; family?: number | string | undefined }, callback: LookupCallback): void => {
    resolveAll(hostname, (err, addresses) => {
      if (err) {
        callback(err, []);
        return;
      }
      policy().then((p) => {
        const family = options.family === 4 || options.family === 'IPv4' ? 4 : options.family === 6 || options.family === 'IPv6' ? 6 : 0;
        const candidates = family === 0 ? addresses : addresses.filter((a) => a.family === family);
        const problems = candidates.map((a) => addressProblem(a.address, p));
        const allowed = candidates.filter((_, i) => problems[i] === undefined);
        if (allowed.length === 0) {
          const why = problems.filter((x): x is string => x !== undefined);
          callback(new RedirectRefusedError(`${hostname} resolves to no allowed address (${why.join('; ') || 'no address'})`), []);
        } else if (options.all) {
          callback(null, allowed);
        } else {
          callback(null, allowed[0]!.address, allowed[0]!.family);
        }
      }, (e: unknown) => callback(e as NodeJS.ErrnoException, []));
    });
  };
}

/** Every address `hostname` resolves to (or the literal itself). */
export function resolveAllAsync(hostname: string, resolveAll: ResolveAll = systemResolveAll): Promise<string[]> {
  return new Promise((resolve, reject) => {
    resolveAll(hostname, (err, addresses) => (err ? reject(err) : resolve(addresses.map((a) => a.address))));
  });
}
