// Amazon ECR: GetAuthorizationToken yields a base64 "AWS:<password>" valid for 12 hours;
// cached until shortly before it expires.
import type { ECRClient } from '@aws-sdk/client-ecr';
import type { CredentialProvider, StaticCredentials } from './types.js';

export interface EcrCredentialsOptions {
  region: string;
  /** Injectable for tests and custom endpoints. */
  client?: Pick<ECRClient, 'send'>;
  now?: () => number;
}

const REFRESH_MARGIN_MS = 5 * 60_000;

export function ecrCredentials(options: EcrCredentialsOptions): CredentialProvider {
  let client = options.client;
  const now = options.now ?? Date.now;
  let cached: { credentials: StaticCredentials; expiresAt: number } | undefined;
  return async () => {
    if (cached && cached.expiresAt - REFRESH_MARGIN_MS > now()) return cached.credentials;
    // Loaded on first use: most configurations have no ECR registry and should not pay for the SDK.
    const sdk = await import('@aws-sdk/client-ecr');
    client ??= new sdk.ECRClient({ region: options.region });
    const out = await client.send(new sdk.GetAuthorizationTokenCommand({}));
    const data = out.authorizationData?.[0];
    if (!data?.authorizationToken) throw new Error(`ECR GetAuthorizationToken in ${options.region} returned no token`);
    const decoded = Buffer.from(data.authorizationToken, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new Error('ECR authorization token is not user:password');
    const credentials = { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    cached = { credentials, expiresAt: data.expiresAt ? data.expiresAt.getTime() : now() + 11 * 3600_000 };
    return credentials;
  };
}
