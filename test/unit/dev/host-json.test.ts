import { describe, expect, it } from 'vitest';
import { parseTimeSpan, resolveHostConfig } from '../../../dev/host-json.js';

describe('resolveHostConfig', () => {
  it('applies the host defaults to an empty host.json', () => {
    expect(resolveHostConfig({})).toEqual({
      functionTimeoutMs: 30 * 60_000,
      routePrefix: 'api',
      queues: {
        maxPollingIntervalMs: 2_000,
        visibilityTimeoutMs: 0,
        batchSize: 16,
        newBatchThreshold: 8,
        maxDequeueCount: 5,
        messageEncoding: 'base64',
      },
    });
  });

  it('reads extensions.queues and functionTimeout', () => {
    const config = resolveHostConfig({
      functionTimeout: '-1',
      extensions: {
        queues: {
          maxPollingInterval: '00:00:00.250',
          visibilityTimeout: '00:00:30',
          batchSize: 4,
          newBatchThreshold: 2,
          maxDequeueCount: 3,
          messageEncoding: 'None',
        },
      },
    });
    expect(config.functionTimeoutMs).toBeUndefined();
    expect(config.queues).toEqual({
      maxPollingIntervalMs: 250,
      visibilityTimeoutMs: 30_000,
      batchSize: 4,
      newBatchThreshold: 2,
      maxDequeueCount: 3,
      messageEncoding: 'none',
    });
  });

  it('derives newBatchThreshold from batchSize when it is not set', () => {
    expect(resolveHostConfig({ extensions: { queues: { batchSize: 5 } } }).queues.newBatchThreshold).toBe(2);
  });

  it('lets AzureFunctionsJobHost__ settings override host.json, case-insensitively', () => {
    const config = resolveHostConfig(
      { extensions: { queues: { maxDequeueCount: 5 } } },
      {
        AzureFunctionsJobHost__extensions__queues__MaxDequeueCount: '2',
        AzureFunctionsJobHost__extensions__queues__batchSize: '8',
        AzureFunctionsJobHost__functionTimeout: '00:05:00',
      },
    );
    expect(config.queues.maxDequeueCount).toBe(2);
    expect(config.queues.batchSize).toBe(8);
    expect(config.functionTimeoutMs).toBe(300_000);
  });

  it('rejects values outside the documented ranges', () => {
    expect(() => resolveHostConfig({ extensions: { queues: { batchSize: 64 } } })).toThrow(
      /host.json is not valid/,
    );
    expect(() => resolveHostConfig({ extensions: { queues: { messageEncoding: 'utf16' } } })).toThrow(
      /host.json is not valid/,
    );
  });
});

describe('parseTimeSpan', () => {
  it('reads [d.]hh:mm:ss[.fff]', () => {
    expect(parseTimeSpan('00:00:05')).toBe(5_000);
    expect(parseTimeSpan('01:02:03.5')).toBe(3_723_500);
    expect(parseTimeSpan('1.00:00:00')).toBe(86_400_000);
  });

  it('rejects other text', () => {
    expect(() => parseTimeSpan('5s')).toThrow(/not a TimeSpan/);
  });
});
