import { describe, expect, it } from 'vitest';
import { forecastLine } from '../../../../src/cli/actions/import.js';
import { forecastReport } from '../../../../src/imports/forecast.js';

// 100,000 creates with one identity: 100 CreateMultiple of 1,000, 653.5 s of execution time within one
// window's 1,200 s, so 653.5 / 52 = 12.57 s at the limits (printed to the second).
const counts = { created: 100_000, updated: 0, upserted: 0, deleted: 0, readRequests: 0 };
const options = { identities: 1, bulkSize: 1_000 };

describe('forecastLine', () => {
  it('forecasts a dry run with what binds and its cost against the limits', () => {
    expect(forecastLine(forecastReport(counts, options), true)).toBe(
      'Forecast for the import with 1 identity: about 13 s at the service protection limits ' +
        "(execution-time binds); 100 requests, 654 s of Dataverse execution time (54% of one identity's " +
        '5-minute window), 100,000 Power Platform requests against the daily entitlement.',
    );
  });

  it("sets a real run against the limits' pace, and says why when it went faster than forecast", () => {
    const slower = forecastLine(
      forecastReport(counts, options, { durationMs: 25_135, requests: 100 }),
      false,
    );
    expect(slower).toMatch(/ It took 25 s \(50% of the limits' pace\)\.$/);
    const faster = forecastLine(forecastReport(counts, options, { durationMs: 5_000, requests: 100 }), false);
    expect(faster).toMatch(
      / It took 5\.0 s, faster than forecast: the server took less time per record than documented\.$/,
    );
  });
});
