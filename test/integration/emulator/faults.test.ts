import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RequestLogEntry, type RunningEmulator } from '../../../emulator/index.js';
import { call } from './client.js';

let emu: RunningEmulator;
const log: RequestLogEntry[] = [];
beforeAll(async () => {
  emu = await startEmulator({ slowMs: 30, log: (e) => log.push(e) });
});
afterAll(() => emu.close());

describe('fault injection', () => {
  it('[webapi §8] 429 faults look like service protection: Retry-After and 0x80072322; nothing is written', async () => {
    emu.configure({ faults: '429=1' });
    const r = await call(emu, 'POST', 'accounts', { body: { name: 'never' } });
    emu.configure({ faults: '' });
    expect(r.status).toBe(429);
    expect(r.json.error.code).toBe('0x80072322');
    expect(r.headers.get('retry-after')).toBe('1');
    expect(emu.store.count('account')).toBe(0);
    expect(emu.stats().faults['429']).toBe(1);
  });

  it('503 faults answer with the JSON envelope and write nothing', async () => {
    emu.configure({ faults: '503=1' });
    const r = await call(emu, 'POST', 'accounts', { body: { name: 'never' } });
    emu.configure({ faults: '' });
    expect(r.status).toBe(503);
    expect(r.headers.get('content-type')).toBe('application/json; odata.metadata=minimal');
    expect(r.json.error.code).toBe('0x80040216');
    expect(emu.store.count('account')).toBe(0);
  });

  it('drop faults apply the operation, then close the connection without an answer', async () => {
    emu.configure({ faults: 'drop=1' });
    await expect(
      call(emu, 'POST', 'accounts', { body: { name: 'applied but unanswered' } }),
    ).rejects.toThrow();
    emu.configure({ faults: '' });
    expect(emu.store.all('account').map((a) => a.name)).toEqual(['applied but unanswered']);
    expect(log.at(-1)).toMatchObject({ fault: 'drop', status: 0 });
  });

  it('slow faults hold the answer for slowMs, then answer normally', async () => {
    emu.configure({ faults: 'slow=1', slowMs: 20 });
    const r = await call(emu, 'GET', 'WhoAmI');
    emu.configure({ faults: '' });
    expect(r.status).toBe(200);
    expect(log.at(-1)).toMatchObject({ fault: 'slow', status: 200 });
  });

  it('rates apply per request', async () => {
    emu.configure({ faults: '503=0.5' });
    const statuses = await Promise.all(
      Array.from({ length: 60 }, () => call(emu, 'GET', 'WhoAmI').then((r) => r.status)),
    );
    emu.configure({ faults: '' });
    expect(statuses.filter((s) => s === 503).length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(0);
    expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
  });

  it('control endpoints accept the same configuration over HTTP; bad specs are refused', async () => {
    const ok = await fetch(`${emu.url}/_emulator/configure`, {
      method: 'POST',
      body: JSON.stringify({ faults: '429=0.1,drop=0.02' }),
    });
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { faults: string }).faults).toBe('429=0.1,drop=0.02');
    const bad = await fetch(`${emu.url}/_emulator/configure`, {
      method: 'POST',
      body: JSON.stringify({ faults: 'boom=1' }),
    });
    expect(bad.status).toBe(400);
    emu.configure({ faults: '' });
  });
});
