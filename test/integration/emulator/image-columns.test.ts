import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../../emulator/index.js';
import { call, idFrom, startFast } from './client.js';

// Conformance with Learn, "Use image column data": image columns take image files only, up to the
// column's MaxSizeInKB (at most 30 MB), and answer ProcessImageFailure (0x80072553) otherwise. Their
// metadata answers the ImageAttributeMetadata cast with MaxSizeInKB, as file columns answer theirs.

let emu: RunningEmulator;
beforeAll(async () => {
  emu = await startFast();
});
afterAll(() => emu.close());

const png = Buffer.concat([
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  Buffer.alloc(64, 7),
]);

async function sample(name: string): Promise<string> {
  const created = await call(emu, 'POST', 'dvp_samples', { body: { dvp_name: name } });
  expect(created.status).toBe(204);
  return idFrom(created.headers.get('OData-EntityId'));
}

function upload(id: string, name: string, bytes: Buffer) {
  return fetch(`${emu.apiRoot}dvp_samples(${id})/dvp_picture`, {
    method: 'PATCH',
    headers: {
      Authorization: 'Bearer emulator:tester',
      'Content-Type': 'application/octet-stream',
      'x-ms-file-name': name,
    },
    body: bytes,
  });
}

describe('image columns', () => {
  it('lists the image column under its own cast with MaxSizeInKB, and the file column under its own', async () => {
    const images = await call(
      emu,
      'GET',
      "EntityDefinitions(LogicalName='dvp_sample')/Attributes/Microsoft.Dynamics.CRM.ImageAttributeMetadata?$select=LogicalName,MaxSizeInKB",
    );
    expect(images.status).toBe(200);
    expect(
      images.json.value.map((a: { LogicalName: string; MaxSizeInKB: number }) => [
        a.LogicalName,
        a.MaxSizeInKB,
      ]),
    ).toEqual([['dvp_picture', 10240]]);
    const files = await call(
      emu,
      'GET',
      "EntityDefinitions(LogicalName='dvp_sample')/Attributes/Microsoft.Dynamics.CRM.FileAttributeMetadata?$select=LogicalName,MaxSizeInKB",
    );
    expect(files.json.value.map((a: { LogicalName: string }) => a.LogicalName)).toEqual(['dvp_document']);
  });

  it('stores an image, and refuses a file that is not one with ProcessImageFailure', async () => {
    const id = await sample('Pictured');
    expect((await upload(id, 'logo.png', png)).status).toBe(204);
    expect(emu.store.file('dvp_sample', id, 'dvp_picture')?.bytes.equals(png)).toBe(true);

    const refused = await upload(id, 'notes.png', Buffer.from('plain text'));
    expect(refused.status).toBe(400);
    const body = (await refused.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('0x80072553');
    expect(body.error.message).toBe(
      'Error occured when processing image. Reason: The file notes.png is not an image.',
    );
    // The image stored before is kept.
    expect(emu.store.file('dvp_sample', id, 'dvp_picture')?.name).toBe('logo.png');
  });

  it('refuses an image over the column MaxSizeInKB with the documented message', async () => {
    const id = await sample('Too large');
    const refused = await upload(id, 'huge.png', Buffer.concat([png, Buffer.alloc(11 * 1024 * 1024)]));
    expect(refused.status).toBe(400);
    const body = (await refused.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('0x80072553');
    expect(body.error.message).toBe(
      'Error occured when processing image. Reason: File size is too big. MaxSize: 10 MB, Uploaded filesize: 11 MB.',
    );
    expect(emu.store.file('dvp_sample', id, 'dvp_picture')).toBeUndefined();
  });
});
