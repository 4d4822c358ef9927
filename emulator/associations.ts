// Many-to-many associations (the rows of a relationship's intersect table) and the `$ref` requests that
// change them (reference §4 and §13): POST `<set>(<id>)/<nav>/$ref` with `{"@odata.id": "<other set>(<id>)"}`,
// DELETE `<set>(<id>)/<nav>(<other id>)/$ref` or `<set>(<id>)/<nav>/$ref?$id=<url>`.
import { errors } from './errors.js';
import type { ManyToManySide } from './model.js';
import { parseEntityRef, type Records } from './records.js';
import type { Store } from './store.js';

/** The intersect rows of every many-to-many relationship, as `entity1 id|entity2 id` per relationship. */
export class Associations {
  private readonly pairs = new Map<string, Set<string>>();

  constructor(private readonly store: Store) {}

  private set(side: ManyToManySide): Set<string> {
    const name = side.relationship.schemaName;
    let set = this.pairs.get(name);
    if (!set) {
      set = new Set();
      this.pairs.set(name, set);
    }
    return set;
  }

  private static pair(side: ManyToManySide, id: string, otherId: string): string {
    return side.isEntity1 ? `${id}|${otherId}` : `${otherId}|${id}`;
  }

  has(side: ManyToManySide, id: string, otherId: string): boolean {
    return this.set(side).has(Associations.pair(side, id, otherId));
  }

  /** Adds the pair; false when it existed. Undone with the surrounding change set. */
  add(side: ManyToManySide, id: string, otherId: string): boolean {
    const set = this.set(side);
    const pair = Associations.pair(side, id, otherId);
    if (set.has(pair)) return false;
    set.add(pair);
    this.store.onUndo(() => set.delete(pair));
    return true;
  }

  /** Removes the pair; false when there was none. */
  remove(side: ManyToManySide, id: string, otherId: string): boolean {
    const set = this.set(side);
    const pair = Associations.pair(side, id, otherId);
    if (!set.delete(pair)) return false;
    this.store.onUndo(() => set.add(pair));
    return true;
  }

  /** Ids at the other end of the relationship from `id`, in id order. */
  related(side: ManyToManySide, id: string): string[] {
    const out: string[] = [];
    for (const pair of this.set(side)) {
      const [one, two] = pair.split('|') as [string, string];
      if (side.isEntity1 ? one === id : two === id) out.push(side.isEntity1 ? two : one);
    }
    return out.sort();
  }

  /** Number of pairs of a relationship (inspection). */
  count(schemaName: string): number {
    return this.pairs.get(schemaName)?.size ?? 0;
  }

  clear(): void {
    this.pairs.clear();
  }
}

export type RefChange = { readonly kind: 'associated' } | { readonly kind: 'disassociated' };

/**
 * Applies one `$ref` request on `side` for the record `id` (already found). `otherKey` is the key in
 * `<nav>(<key>)/$ref`; `body` the request body; `idParam` the `$id` query parameter.
 */
export function applyRef(
  associations: Associations,
  records: Records,
  side: ManyToManySide,
  method: string,
  id: string,
  otherKey: string | undefined,
  body: string,
  idParam: string | null,
): RefChange {
  const otherIdOf = (text: string): string => {
    const ref = records.parseKey(side.other, text);
    return records.require(side.other, ref).id;
  };
  const fromUrl = (url: string): string => {
    const parsed = parseEntityRef(url);
    if (!parsed || parsed.set !== side.other.entitySetName) {
      throw errors.invalidArgument(
        `The '@odata.id' value '${url}' does not identify a ${side.other.logicalName} record (relationship ${side.relationship.schemaName}).`,
      );
    }
    return otherIdOf(parsed.key);
  };
  if (method === 'POST') {
    if (otherKey !== undefined) throw errors.methodNotAllowed(method);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body === '' ? '{}' : body);
    } catch {
      throw errors.invalidArgument('The body of a $ref request must be {"@odata.id": "<entity url>"}.');
    }
    const url = (parsed as Record<string, unknown> | null)?.['@odata.id'];
    if (typeof url !== 'string') {
      throw errors.invalidArgument('The body of a $ref request must be {"@odata.id": "<entity url>"}.');
    }
    const otherId = fromUrl(url);
    // Dataverse refuses a second row for the same pair in the intersect table.
    if (!associations.add(side, id, otherId)) throw errors.duplicateKey();
    return { kind: 'associated' };
  }
  if (method === 'DELETE') {
    const otherId =
      otherKey !== undefined
        ? otherIdOf(otherKey)
        : idParam
          ? fromUrl(idParam)
          : (() => {
              throw errors.invalidArgument(
                'A $ref DELETE on a collection needs the related record: <nav>(<id>)/$ref or $ref?$id=<url>.',
              );
            })();
    associations.remove(side, id, otherId);
    return { kind: 'disassociated' };
  }
  throw errors.methodNotAllowed(method);
}
