// What a registry client can authenticate with. Providers are called lazily and again
// after a 401, so rotating credentials (ECR tokens, credential helpers) refresh themselves.

export type StaticCredentials =
  | { username: string; password: string }
  /** A static bearer token, sent as is. */
  | { token: string }
  /** An OAuth2 refresh token (docker config `identitytoken`), exchanged at the token realm. */
  | { identityToken: string };

export type CredentialProvider = () => Promise<StaticCredentials | undefined>;

export type Credentials = StaticCredentials | CredentialProvider;

export function isBasic(c: StaticCredentials | undefined): c is { username: string; password: string } {
  return c !== undefined && 'username' in c;
}
