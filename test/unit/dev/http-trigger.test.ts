import { describe, expect, it } from 'vitest';
import { compileRoute } from '../../../dev/http-trigger.js';

describe('compileRoute', () => {
  it('matches literals case-insensitively and captures parameters', () => {
    expect(compileRoute('api/runs/{runId}').match('/API/Runs/r1')).toEqual({ runId: 'r1' });
    expect(compileRoute('api/runs/{runId}').match('/api/runs/r1/extra')).toBeUndefined();
  });

  it('honours constraints, optional and catch-all parameters', () => {
    expect(compileRoute('api/items/{id:int}').match('/api/items/x')).toBeUndefined();
    expect(compileRoute('api/items/{id:int}').match('/api/items/42')).toEqual({ id: '42' });
    expect(compileRoute('api/list/{page?}').match('/api/list')).toEqual({});
    expect(compileRoute('api/files/{*path}').match('/api/files/a/b.csv')).toEqual({ path: 'a/b.csv' });
  });
});
