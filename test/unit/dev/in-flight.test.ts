import { describe, expect, it } from 'vitest';
import { InFlight } from '../../../dev/in-flight.js';

describe('InFlight', () => {
  it('counts running work and reports drained once it all settled, failures included', async () => {
    const inFlight = new InFlight();
    let finish: () => void = () => {};
    const running = inFlight.run(() => new Promise<void>((resolve) => (finish = resolve)));
    const failing = inFlight.run(() => Promise.reject(new Error('boom')));
    await expect(failing).rejects.toThrow('boom');
    expect(inFlight.count).toBe(1);
    const drained = inFlight.drained(10_000);
    finish();
    await running;
    expect(await drained).toBe(true);
    expect(inFlight.count).toBe(0);
  });

  it('gives up waiting after the timeout', async () => {
    const inFlight = new InFlight();
    void inFlight.run(() => new Promise<void>(() => {}));
    expect(await inFlight.drained(10)).toBe(false);
  });
});
