export type FaultKind = '429' | '503' | 'drop' | 'slow';
export const FAULT_KINDS: readonly FaultKind[] = ['429', '503', 'drop', 'slow'];

export type FaultRates = Readonly<Partial<Record<FaultKind, number>>>;

/** Parses `429=0.1,503=0.05,drop=0.02,slow=0.01`; rates are 0..1 and must sum to at most 1. */
export function parseFaults(spec: string | undefined): FaultRates {
  const rates: Partial<Record<FaultKind, number>> = {};
  if (!spec || spec.trim() === '' || spec.trim() === 'none') return rates;
  let total = 0;
  for (const part of spec.split(',')) {
    const [kind, rate, extra] = part.split('=').map((s) => s.trim());
    if (!kind || rate === undefined || extra !== undefined || !FAULT_KINDS.includes(kind as FaultKind)) {
      throw new Error(`Invalid fault '${part}': use kind=rate with kind one of ${FAULT_KINDS.join(', ')}`);
    }
    const value = Number(rate);
    if (!Number.isFinite(value) || value < 0 || value > 1) {
      throw new Error(`Invalid fault rate '${rate}' for ${kind}: use a number from 0 to 1`);
    }
    rates[kind as FaultKind] = value;
    total += value;
  }
  if (total > 1) throw new Error(`Fault rates add up to ${total}; the total must be at most 1`);
  return rates;
}

/** Picks at most one fault for a request; `random` is injectable for tests. */
export function rollFault(rates: FaultRates, random: () => number = Math.random): FaultKind | undefined {
  let r = random();
  for (const kind of FAULT_KINDS) {
    const rate = rates[kind] ?? 0;
    if (r < rate) return kind;
    r -= rate;
  }
  return undefined;
}

/** `429=0.1,drop=0.02` form of the rates in force. */
export function faultsSummary(rates: FaultRates): string {
  return FAULT_KINDS.filter((k) => (rates[k] ?? 0) > 0)
    .map((k) => `${k}=${rates[k]}`)
    .join(',');
}
