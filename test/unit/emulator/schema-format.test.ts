import { describe, expect, it } from 'vitest';
import { parseSchema } from '../../../emulator/schema/format.js';
import { DEFAULT_SCHEMA as defaultSchema } from '../../../emulator/schema/default.js';

// A schema file may not describe an image column Dataverse could not have (Learn, "Use image column
// data": image columns are limited to 30 MB); file columns may be larger.
describe('emulator schema: file and image columns', () => {
  const withColumn = (kind: 'File' | 'Image', maxSizeInKB: number) => {
    const schema = structuredClone(defaultSchema);
    const sample = schema.tables.find((t) => t.logicalName === 'dvp_sample')!;
    sample.fileColumns = [{ logicalName: 'dvp_extra', kind, maxSizeInKB }];
    return schema;
  };

  it('accepts an image column of 30,720 KB and a file column over it', () => {
    expect(parseSchema(withColumn('Image', 30720)).tables.length).toBe(defaultSchema.tables.length);
    expect(parseSchema(withColumn('File', 10 * 1024 * 1024)).tables.length).toBe(defaultSchema.tables.length);
  });

  it('refuses an image column over 30 MB, naming the limit', () => {
    expect(() => parseSchema(withColumn('Image', 30721))).toThrow(
      /an image column holds at most 30720 KB \(30 MB\)/,
    );
  });
});
