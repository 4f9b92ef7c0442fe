// Which forward proxy a registry request goes through: the registry's own `proxy` setting,
// else HTTP_PROXY / HTTPS_PROXY / NO_PROXY (lower case first) read the way undici's
// EnvHttpProxyAgent reads them. Pure, so the choice is known (and named in errors).

export interface ProxyEnv {
  http_proxy?: string | undefined;
  HTTP_PROXY?: string | undefined;
  https_proxy?: string | undefined;
  HTTPS_PROXY?: string | undefined;
  no_proxy?: string | undefined;
  NO_PROXY?: string | undefined;
}

const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443 };

/**
 * The proxy URL for a request to `target`, or undefined to connect directly. `setting`:
 * a URL (always that proxy), false (never a proxy), undefined (the environment decides).
 */
export function proxyFor(target: URL, setting: string | false | undefined, env: ProxyEnv = process.env): string | undefined {
  if (setting === false) return undefined;
  if (setting !== undefined) return setting;
  const httpProxy = env.http_proxy ?? env.HTTP_PROXY;
  const proxy = target.protocol === 'https:' ? (env.https_proxy ?? env.HTTPS_PROXY ?? httpProxy) : httpProxy;
  if (!proxy) return undefined;
  return bypassed(target, env.no_proxy ?? env.NO_PROXY ?? '') ? undefined : proxy;
}

/** NO_PROXY: `*`, or entries `host[:port]` matching the host or any subdomain (a leading `.` or `*.` allowed). */
export function bypassed(target: URL, noProxy: string): boolean {
  const value = noProxy.trim();
  if (value === '*') return true;
  // Brackets of an IPv6 host are kept, as entries are written with them.
  const hostname = target.host.replace(/:\d*$/, '').toLowerCase();
  const port = Number.parseInt(target.port, 10) || DEFAULT_PORTS[target.protocol] || 0;
  for (const raw of value.split(/[,\s]/)) {
    if (!raw) continue;
    const parsed = /^(.+):(\d+)$/.exec(raw);
    const entryHost = (parsed ? parsed[1]! : raw).replace(/^\*?\./, '').toLowerCase();
    const entryPort = parsed ? Number.parseInt(parsed[2]!, 10) : 0;
    if (entryPort && entryPort !== port) continue;
    if (hostname === entryHost || hostname.endsWith(`.${entryHost}`)) return true;
  }
  return false;
}

/** A proxy URL fit for logs and errors: credentials removed. */
export function redactProxy(proxy: string): string {
  try {
    const url = new URL(proxy);
    if (url.username || url.password) {
      url.username = '';
      url.password = '';
    }
    return url.origin;
  } catch {
    return '(unparsable proxy URL)';
  }
}
