// Where the instances of one app that share identities say they are busy: one small blob per instance in
// the storage account the app already has. Ages come from the storage service's own clock (each blob's
// Last-Modified against the Date of the answer that wrote ours), so the instances' clocks never matter.
import type { ContainerClient } from '@azure/storage-blob';

/** What one instance tells the others. */
export interface MemberRecord {
  readonly instance: string;
  /** Requests this instance has waiting or in flight (its backlog), summed over identities. */
  readonly demand: number;
}

/** A member as the board saw it: its record and how long ago it was written, by the board's clock. */
export interface MemberView extends MemberRecord {
  readonly ageMs: number;
}

export interface FleetBoard {
  /** Writes this instance's record and returns every member's (this one's included). */
  publish(self: MemberRecord): Promise<readonly MemberView[]>;
  /** Removes a record: on a clean stop (self), or a member silent long enough to have died. */
  remove(instance: string): Promise<void>;
}

/** The board in a blob container, under `<prefix>/` (one blob per instance, demand in its metadata). */
export class BlobFleetBoard implements FleetBoard {
  constructor(
    private readonly container: ContainerClient,
    private readonly prefix: string,
  ) {}

  async publish(self: MemberRecord): Promise<readonly MemberView[]> {
    const written = await this.container
      .getBlockBlobClient(`${this.prefix}/${self.instance}`)
      .upload('', 0, { metadata: { demand: String(Math.max(0, Math.round(self.demand))) } });
    // The service's time when it wrote our record: Last-Modified has one-second precision, so is compared
    // with the same service's Date rather than with this machine's clock.
    const serviceNow = written.date?.getTime() ?? written.lastModified?.getTime() ?? Date.now();
    const members: MemberView[] = [];
    for await (const blob of this.container.listBlobsFlat({
      prefix: `${this.prefix}/`,
      includeMetadata: true,
    })) {
      const instance = blob.name.slice(this.prefix.length + 1);
      const demand = Number(blob.metadata?.demand ?? 0);
      members.push({
        instance,
        demand: Number.isFinite(demand) ? demand : 0,
        ageMs: Math.max(0, serviceNow - blob.properties.lastModified.getTime()),
      });
    }
    return members;
  }

  async remove(instance: string): Promise<void> {
    await this.container.getBlobClient(`${this.prefix}/${instance}`).deleteIfExists();
  }
}

/** The board in memory: for tests, and for instances in one process. */
export class MemoryFleetBoard implements FleetBoard {
  private readonly records = new Map<string, { demand: number; at: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  publish(self: MemberRecord): Promise<readonly MemberView[]> {
    const now = this.now();
    this.records.set(self.instance, { demand: self.demand, at: now });
    return Promise.resolve(
      [...this.records].map(([instance, r]) => ({ instance, demand: r.demand, ageMs: now - r.at })),
    );
  }

  remove(instance: string): Promise<void> {
    this.records.delete(instance);
    return Promise.resolve();
  }
}
