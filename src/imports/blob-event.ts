import { z } from 'zod';

/** The parts of an Event Grid `Microsoft.Storage.BlobCreated` event the importer uses. */
export interface BlobCreated {
  readonly url: string;
  readonly container: string;
  /** Blob name inside the container, URL-decoded. */
  readonly blobName: string;
  readonly etag: string;
  readonly contentLength?: number;
  readonly eventId: string;
}

const eventGridEvent = z.object({
  id: z.string(),
  eventType: z.string(),
  subject: z.string().optional(),
  data: z.object({
    url: z.url(),
    eTag: z.string().optional(),
    contentLength: z.number().optional(),
  }),
});

/** Cloud Events 1.0 carries the same data under `type`. Both schemas can be chosen on a subscription. */
const cloudEvent = z.object({
  id: z.string(),
  type: z.string(),
  data: eventGridEvent.shape.data,
});

export class InvalidEventError extends Error {
  override readonly name = 'InvalidEventError';
}

/** Returns the blob of a BlobCreated event, or undefined for other event types (ignored). */
export function parseBlobCreated(body: unknown): BlobCreated | undefined {
  const candidate = Array.isArray(body) && body.length === 1 ? body[0] : body;
  const grid = eventGridEvent.safeParse(candidate);
  const cloud = grid.success ? undefined : cloudEvent.safeParse(candidate);
  const event = grid.success
    ? { id: grid.data.id, type: grid.data.eventType, data: grid.data.data }
    : cloud?.success
      ? { id: cloud.data.id, type: cloud.data.type, data: cloud.data.data }
      : undefined;
  if (!event)
    throw new InvalidEventError('The message is not an Event Grid or CloudEvents BlobCreated event.');
  if (event.type !== 'Microsoft.Storage.BlobCreated') return undefined;
  const url = new URL(event.data.url);
  // Path style: /<container>/<blob> (Azure), or /<account>/<container>/<blob> (Azurite, IP hosts).
  const segments = url.pathname.split('/').slice(1);
  const pathStyle = /^(\d+\.){3}\d+$|^localhost$/.test(url.hostname);
  const [container, ...rest] = pathStyle ? segments.slice(1) : segments;
  if (!container || rest.length === 0) throw new InvalidEventError(`The event's blob URL has no blob name.`);
  return {
    url: event.data.url,
    container: decodeURIComponent(container),
    blobName: rest.map((part) => decodeURIComponent(part)).join('/'),
    // Event Grid writes the ETag unquoted, the blob API quoted: keep one form so run ids agree.
    etag: (event.data.eTag ?? '').replace(/^"(.*)"$/, '$1'),
    contentLength: event.data.contentLength,
    eventId: event.id,
  };
}
