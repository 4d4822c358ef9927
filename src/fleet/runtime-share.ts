// The fleet share of an app instance: its board is a folder of the `runs` container, one per environment and
// set of identities, so apps (or slots) that use other identities never share a window with it.
import { createHash } from 'node:crypto';
import type { ContainerClient } from '@azure/storage-blob';
import type { Clock } from '../dataverse/clock.js';
import { BlobFleetBoard } from './board.js';
import { FleetShare } from './share.js';

/** The board's folder in `runs`; the lifecycle rule for runs/ leaves it alone only while it is refreshed. */
export const FLEET_FOLDER = '_fleet';

export interface FleetShareSettings {
  readonly container: ContainerClient;
  readonly url: string;
  readonly identities: readonly string[];
  readonly refreshMs: number;
  readonly clock: Clock;
  readonly steady?: boolean;
}

/** Names the pool without writing client ids into blob names: the org's origin and the sorted identities. */
export function poolKey(url: string, identities: readonly string[]): string {
  const users = identities.length > 0 ? [...identities].sort().join(',') : '(default credential)';
  return createHash('sha256')
    .update(`${new URL(url).origin}\n${users}`)
    .digest('hex')
    .slice(0, 24);
}

export function fleetShareFor(settings: FleetShareSettings): FleetShare {
  return new FleetShare({
    board: new BlobFleetBoard(
      settings.container,
      `${FLEET_FOLDER}/${poolKey(settings.url, settings.identities)}`,
    ),
    clock: settings.clock,
    refreshMs: settings.refreshMs,
    ...(settings.steady ? { steady: true } : {}),
    // Given identities of their own only when there are client ids to divide (not one default credential).
    ...(settings.identities.length > 1 ? { identities: settings.identities } : {}),
  });
}
