// The terminal's account of failed rows: how many failed for each reason, with the first row of each,
// so a user sees what went wrong without opening errors.csv (which holds every one).

/** One failed row as errors.csv reports it. */
export interface FailedRow {
  readonly row: string;
  readonly code: string;
  readonly column: string;
  readonly message: string;
}

const count = (n: number) => n.toLocaleString('en-US');
const plural = (n: number, one: string, many: string) => `${count(n)} ${n === 1 ? one : many}`;

/**
 * The lines printed after a run with failed rows: the `shown` most frequent reasons, then the rest
 * counted. Rows stream through (errors.csv may hold millions); only one example per reason is kept.
 */
export async function failureSummary(
  rows: AsyncIterable<FailedRow> | Iterable<FailedRow>,
  errorsPath: string,
  shown = 5,
): Promise<string> {
  const groups = new Map<string, { count: number; row: string; message: string }>();
  let total = 0;
  for await (const record of rows) {
    total += 1;
    const reason = `${record.code}${record.column ? ` (${record.column})` : ''}`;
    const group = groups.get(reason);
    if (group) group.count += 1;
    else groups.set(reason, { count: 1, row: record.row, message: record.message });
  }
  // Most frequent first; a stable sort keeps the file's order among equals.
  const sorted = [...groups.entries()].sort((a, b) => b[1].count - a[1].count);
  const width = Math.max(0, ...sorted.slice(0, shown).map(([reason]) => reason.length));
  const lines = sorted.slice(0, shown).map(([reason, group]) => {
    const message = group.message.length > 100 ? `${group.message.slice(0, 100)}…` : group.message;
    return `  ${count(group.count).padStart(7)} × ${reason.padEnd(width)}  e.g. row ${group.row}: ${message}`;
  });
  const rest = sorted.slice(shown);
  const more = rest.reduce((sum, [, group]) => sum + group.count, 0);
  if (more > 0)
    lines.push(
      `  … and ${plural(more, 'more row', 'more rows')} with ${plural(rest.length, 'other reason', 'other reasons')}`,
    );
  return (
    `Failed rows by reason (${count(total)} in all, each one in ${errorsPath}):\n${lines.join('\n')}\n` +
    `Fix the rows in ${errorsPath} and import that file with another --out, so these results stay.\n`
  );
}
