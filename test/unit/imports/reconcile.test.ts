import { describe, expect, it } from 'vitest';
import {
  blobCreatedEvent,
  inputTags,
  sweepVerdict,
  type IncomingBlob,
} from '../../../src/imports/reconcile.js';
import { parseBlobCreated } from '../../../src/imports/blob-event.js';

const now = new Date('2026-12-02T12:00:00Z');
const minutes = (n: number) => new Date(now.getTime() - n * 60_000);
const options = { now, graceMs: 15 * 60_000, staleMs: 60 * 60_000, suffix: '.csv' };

function blob(overrides: Partial<IncomingBlob> = {}): IncomingBlob {
  return {
    name: 'contacts/people.csv',
    url: 'https://st.blob.core.windows.net/incoming/contacts/people.csv',
    etag: '0x8DC1',
    contentLength: 120,
    lastModified: minutes(30),
    tags: {},
    ...overrides,
  };
}

const tagged = (status: string, at: Date, etag = '0x8DC1') => ({
  [inputTags.run]: 'r0123456789abcdef01234567',
  [inputTags.status]: status,
  [inputTags.at]: at.toISOString(),
  [inputTags.etag]: etag,
});

describe('sweepVerdict', () => {
  it('starts an input with no run once its event is overdue, not before', () => {
    expect(sweepVerdict(blob(), options)).toEqual({ action: 'start' });
    expect(sweepVerdict(blob({ lastModified: minutes(5) }), options)).toEqual({ action: 'leave' });
  });

  it('leaves names the Event Grid filter leaves out (case-insensitive suffix)', () => {
    expect(sweepVerdict(blob({ name: 'contacts/readme.txt' }), options)).toEqual({ action: 'leave' });
    expect(sweepVerdict(blob({ name: 'contacts/PEOPLE.CSV' }), options)).toEqual({ action: 'start' });
  });

  it('leaves inputs whose run ended, whatever its outcome', () => {
    for (const status of ['succeeded', 'completedWithErrors', 'failed']) {
      expect(sweepVerdict(blob({ tags: tagged(status, minutes(600)) }), options)).toEqual({
        action: 'leave',
      });
    }
  });

  it('checks a run that has said running for longer than the stale time', () => {
    expect(sweepVerdict(blob({ tags: tagged('running', minutes(90)) }), options)).toEqual({
      action: 'check',
      runId: 'r0123456789abcdef01234567',
    });
    expect(sweepVerdict(blob({ tags: tagged('running', minutes(30)) }), options)).toEqual({
      action: 'leave',
    });
  });

  it('treats an input overwritten since its tags were set as a new input', () => {
    const replaced = blob({ etag: '0x8DC2', tags: tagged('succeeded', minutes(600), '0x8DC1') });
    expect(sweepVerdict(replaced, options)).toEqual({ action: 'start' });
  });
});

describe('blobCreatedEvent', () => {
  it('is an event the import handler reads back as the same blob version', () => {
    const event = blobCreatedEvent(blob(), 'incoming', now);
    expect(parseBlobCreated(event)).toMatchObject({
      url: blob().url,
      container: 'incoming',
      blobName: 'contacts/people.csv',
      etag: '0x8DC1',
      contentLength: 120,
    });
  });
});
