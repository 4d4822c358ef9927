// `$filter` texts that stay within a URL budget however many values a caller has to look up.

/** What goes before, between and after the parts of one filter. */
export interface FilterShape {
  readonly open?: string;
  readonly separator: string;
  readonly close?: string;
}

/**
 * `Microsoft.Dynamics.CRM.In(PropertyName='<attribute>',PropertyValues=["a","b"])`, its parts written by
 * `inValue` (the function takes text, also for number columns). A value costs its text and two quotes
 * instead of `<name> eq '...' or `, so one read carries about twice the values.
 */
export function inShape(attribute: string): FilterShape {
  return {
    open: `Microsoft.Dynamics.CRM.In(PropertyName='${attribute}',PropertyValues=[`,
    separator: ',',
    close: '])',
  };
}

/**
 * One value of a query function's `PropertyValues`: a double-quoted JSON string, the form Learn's
 * query-function examples use (reference §13); single-quoted items appear in no documented example.
 */
export function inValue(value: string): string {
  return JSON.stringify(value);
}

/** Conditions joined by `or`. */
export const orShape: FilterShape = { separator: ' or ' };

export interface FilterLimits {
  /** Longest filter, counted percent-encoded, as it travels in the URL. */
  readonly maxEncodedLength: number;
  /** Most parts in one filter. */
  readonly maxParts?: number;
}

export interface PackedFilter<T> {
  readonly filter: string;
  /** The items whose parts the filter holds, in order. */
  readonly items: readonly T[];
}

/**
 * Packs items, in order, into as few filters as the limits allow: `open part separator part … close`.
 * An item whose part alone exceeds the budget still gets a filter of its own.
 */
export function* packFilters<T>(
  items: Iterable<T>,
  partOf: (item: T) => string,
  shape: FilterShape,
  limits: FilterLimits,
): Generator<PackedFilter<T>> {
  const open = shape.open ?? '';
  const close = shape.close ?? '';
  const frame = encodedLength(open) + encodedLength(close);
  const separator = encodedLength(shape.separator);
  const maxParts = limits.maxParts ?? Number.POSITIVE_INFINITY;
  let batch: T[] = [];
  let parts: string[] = [];
  let length = frame;
  for (const item of items) {
    const part = partOf(item);
    const cost = encodedLength(part);
    const full = parts.length >= maxParts || length + separator + cost > limits.maxEncodedLength;
    if (parts.length > 0 && full) {
      yield { filter: open + parts.join(shape.separator) + close, items: batch };
      batch = [];
      parts = [];
      length = frame;
    }
    length += (parts.length > 0 ? separator : 0) + cost;
    batch.push(item);
    parts.push(part);
  }
  if (parts.length > 0) yield { filter: open + parts.join(shape.separator) + close, items: batch };
}

function encodedLength(text: string): number {
  return encodeURIComponent(text).length;
}
