// Small statistics and formatting helpers for the benchmarks in perf/.
// No timing happens here, so these are unit-tested (test/perf-stats.test.ts).

/**
 * Median of a list of numbers (mean of the two middle values for an even count).
 * Throws on an empty list, because a median of nothing is a caller bug.
 */
export function median(xs: number[]): number {
  if (xs.length === 0) {
    throw new Error('median: empty list');
  }
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  if (sorted.length % 2 === 1) {
    return sorted[mid]!;
  }
  return (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function cellText(cell: string | number): string {
  if (typeof cell === 'number') {
    if (Number.isInteger(cell)) return String(cell);
    if (!Number.isFinite(cell)) return String(cell);
    return cell.toFixed(2);
  }
  return cell;
}

/**
 * Render a plain-text table with aligned columns: a header row, a rule of dashes,
 * then the rows. Numeric cells are right-aligned (non-integers with 2 decimals),
 * text cells left-aligned. Rows shorter than the header are padded with empty cells.
 * Columns are separated by two spaces and no line has trailing spaces.
 */
export function formatTable(headers: string[], rows: (string | number)[][]): string {
  const ncols = Math.max(headers.length, ...rows.map((r) => r.length));
  const text: string[][] = [];
  const numeric: boolean[][] = [];
  const head: string[] = [];
  for (let c = 0; c < ncols; c++) head.push(headers[c] ?? '');
  for (const row of rows) {
    const t: string[] = [];
    const n: boolean[] = [];
    for (let c = 0; c < ncols; c++) {
      const cell = row[c];
      t.push(cell === undefined ? '' : cellText(cell));
      n.push(typeof cell === 'number');
    }
    text.push(t);
    numeric.push(n);
  }
  const widths: number[] = [];
  for (let c = 0; c < ncols; c++) {
    let w = head[c]!.length;
    for (const t of text) w = Math.max(w, t[c]!.length);
    widths.push(w);
  }
  const line = (cells: string[], rightAlign: boolean[]): string =>
    cells
      .map((s, c) => (rightAlign[c] ? s.padStart(widths[c]!) : s.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd();
  const out: string[] = [];
  out.push(line(head, head.map(() => false)));
  out.push(widths.map((w) => '-'.repeat(w)).join('  '));
  for (let r = 0; r < text.length; r++) out.push(line(text[r]!, numeric[r]!));
  return out.join('\n');
}

/** A command-line count: a positive integer, else an error naming the option. */
export function positiveInteger(option: string, text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n < 1) throw new Error(`${option} ${text}: expected a positive integer`);
  return n;
}
