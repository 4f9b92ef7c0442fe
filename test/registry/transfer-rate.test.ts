// The rate floor's arithmetic (pure), then the floor cutting a real trickling download.
import { describe, expect, it } from 'vitest';
import { RegistryClient } from '../../shared/registry/client.js';
import { TransferRate } from '../../shared/registry/transfer-rate.js';
import { addSyntheticImage, startHostileRegistry, trickle } from '../testbed/hostile-registry.js';

describe('TransferRate', () => {
  const floor = { bytesPerSecond: 1000, windowMs: 10_000 };

  it('judges nothing before a full window has passed', () => {
    const rate = new TransferRate(floor, 0);
    expect(rate.tooSlow(5_000)).toBe(false);
    expect(rate.tooSlow(9_999)).toBe(false);
    expect(rate.tooSlow(10_000)).toBe(true);
  });

  it('averages over the last window only, like curl --speed-limit/--speed-time', () => {
    const rate = new TransferRate(floor, 0);
    // 1500 B/s for 10 s, then 500 B/s: the average of the last 10 s drops below 1000 B/s
    // once more than 5 slow seconds are in the window.
    for (let t = 1000; t <= 10_000; t += 1000) {
      rate.add(1500);
      expect(rate.tooSlow(t)).toBe(false);
    }
    let slowAt: number | undefined;
    for (let t = 11_000; t <= 30_000 && slowAt === undefined; t += 1000) {
      rate.add(500);
      if (rate.tooSlow(t)) slowAt = t;
    }
    expect(slowAt).toBe(16_000);
    expect(rate.movedInWindow()).toBe(4 * 1500 + 6 * 500);
  });

  it('holds at exactly the floor and when bytes come in bursts', () => {
    const rate = new TransferRate(floor, 0);
    for (let t = 1000; t <= 60_000; t += 1000) {
      if (t % 5000 === 0) rate.add(5000);
      expect(rate.tooSlow(t)).toBe(false);
    }
  });

  it('is off at 0 bytes/s', () => {
    const rate = new TransferRate({ bytesPerSecond: 0, windowMs: 1000 }, 0);
    expect(rate.tooSlow(1_000_000)).toBe(false);
  });
});

describe('a download below the floor', () => {
  it('is cut with a transient TOO_SLOW error of the source registry', async () => {
    // A test server trickling 50 B every 100 ms (500 B/s): no real registry does it on demand.
    const hostile = await startHostileRegistry();
    const client = new RegistryClient({ name: 'slow', url: hostile.url, insecure: true, rateFloor: { bytesPerSecond: 1024, windowMs: 1000 } });
    try {
      const image = addSyntheticImage(hostile, 'team/app', 'v1', [100_000]);
      hostile.onBlob(image.layers[0]!.digest, trickle(50, 100));
      const { stream } = await client.openBlob('team/app', image.layers[0]!.digest);
      const started = Date.now();
      let received = 0;
      const error = await (async () => {
        for await (const chunk of stream) received += (chunk as Buffer).length;
      })().catch((e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(3000);
      expect(received).toBeLessThan(2000);
      expect(error).toMatchObject({ registry: 'slow', repository: 'team/app', reference: image.layers[0]!.digest, code: 'TOO_SLOW' });
      expect((error as { transient: boolean }).transient).toBe(true);
    } finally {
      await client.close();
      await hostile.stop();
    }
  });
});
