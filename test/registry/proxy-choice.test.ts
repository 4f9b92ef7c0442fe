// Which proxy a registry request takes: the registry's setting, else the environment read
// as undici's EnvHttpProxyAgent reads it. Pure: no network.
import { describe, expect, it } from 'vitest';
import { bypassed, proxyFor, redactProxy } from '../../shared/registry/proxy.js';

const https = new URL('https://registry.example.com/v2/');
const http = new URL('http://127.0.0.1:5000/v2/');

describe('proxyFor', () => {
  it('takes the registry setting over the environment; false means direct', () => {
    const env = { HTTPS_PROXY: 'http://env:3128' };
    expect(proxyFor(https, 'http://own:8080', env)).toBe('http://own:8080');
    expect(proxyFor(https, false, env)).toBeUndefined();
    expect(proxyFor(https, undefined, env)).toBe('http://env:3128');
  });

  it('uses HTTPS_PROXY for https, HTTP_PROXY for http (and for https without HTTPS_PROXY), lower case first', () => {
    expect(proxyFor(http, undefined, { HTTPS_PROXY: 'http://s:1' })).toBeUndefined();
    expect(proxyFor(http, undefined, { HTTP_PROXY: 'http://h:1', HTTPS_PROXY: 'http://s:1' })).toBe('http://h:1');
    expect(proxyFor(https, undefined, { HTTP_PROXY: 'http://h:1' })).toBe('http://h:1');
    expect(proxyFor(https, undefined, { https_proxy: 'http://lower:1', HTTPS_PROXY: 'http://upper:1' })).toBe('http://lower:1');
    expect(proxyFor(https, undefined, {})).toBeUndefined();
  });

  it('bypasses hosts NO_PROXY names: exact, subdomains, leading dot or *., ports, *', () => {
    expect(bypassed(https, 'example.com')).toBe(true);
    expect(bypassed(https, '.example.com')).toBe(true);
    expect(bypassed(https, '*.example.com')).toBe(true);
    expect(bypassed(https, 'ample.com')).toBe(false);
    expect(bypassed(https, 'registry.example.com:443')).toBe(true);
    expect(bypassed(https, 'registry.example.com:8443')).toBe(false);
    expect(bypassed(http, 'localhost, 127.0.0.1:5000')).toBe(true);
    expect(bypassed(http, '127.0.0.1:5001')).toBe(false);
    expect(bypassed(http, '*')).toBe(true);
    expect(bypassed(http, '')).toBe(false);
    expect(proxyFor(http, undefined, { HTTP_PROXY: 'http://h:1', no_proxy: '127.0.0.1', NO_PROXY: 'other' })).toBeUndefined();
  });

  it('never shows proxy credentials', () => {
    expect(redactProxy('http://user:s3cret@proxy.corp:3128')).toBe('http://proxy.corp:3128');
    expect(redactProxy('not a url')).not.toContain('not a url');
  });
});
