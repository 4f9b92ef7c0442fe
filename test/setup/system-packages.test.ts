// The global setup's decision (which Debian packages a machine lacks) and that, on this
// machine, it leaves nothing missing: every test after it relies on that.
import { describe, expect, it } from 'vitest';
import { installCommand, missingPackages, REQUIRED_COMMANDS } from './system-packages.js';

describe('test prerequisites (vitest global setup)', () => {
  it('maps missing commands to their Debian packages, in order, once each', () => {
    expect(missingPackages(() => true)).toEqual([]);
    expect(missingPackages((c) => !['htpasswd', 'java'].includes(c))).toEqual(['apache2-utils', 'openjdk-17-jre-headless']);
    expect(missingPackages(() => false)).toEqual(REQUIRED_COMMANDS.map(([, pkg]) => pkg));
  });

  it('tells a non-root user the exact command', () => {
    expect(installCommand(['skopeo', 'tinyproxy'])).toBe('apt-get update && apt-get install -y skopeo tinyproxy');
  });

  it('has left nothing missing on this machine', () => {
    expect(missingPackages()).toEqual([]);
  });
});
