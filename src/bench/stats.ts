// Small statistics for benchmark runs: min / median / max (and mean) of the values that were
// measured, ignoring runs where a point was not seen. Pure.

export interface Summary {
  /** how many runs had a value */
  n: number;
  min: number | null;
  median: number | null;
  max: number | null;
  mean: number | null;
}

/** Median of a sorted list: the middle value, or the mean of the two middle ones. */
export function medianOf(sorted: readonly number[]): number | null {
  if (!sorted.length) return null;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Summary of the finite values (null / undefined / NaN = not measured in that run). */
export function summarize(values: readonly (number | null | undefined)[]): Summary {
  const v = values.filter((x): x is number => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return { n: 0, min: null, median: null, max: null, mean: null };
  return { n: v.length, min: v[0]!, median: medianOf(v), max: v[v.length - 1]!, mean: v.reduce((a, b) => a + b, 0) / v.length };
}

/** a / b of two medians (null when either is missing or b is 0). */
export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a === null || a === undefined || b === null || b === undefined || b === 0) return null;
  return a / b;
}

/** Milliseconds as seconds with 3 decimals ("1.234"), or "-" for nothing. */
export function fmtSeconds(ms: number | null | undefined): string {
  return ms === null || ms === undefined || !Number.isFinite(ms) ? '-' : (ms / 1000).toFixed(3);
}

/** "min / median / max" in seconds; one value when all three are equal; "-" for no data. */
export function fmtSummary(s: Summary): string {
  if (!s.n) return '-';
  if (s.n === 1) return fmtSeconds(s.median);
  return `${fmtSeconds(s.min)} / ${fmtSeconds(s.median)} / ${fmtSeconds(s.max)}`;
}

/** Bytes, human-sized with 1000-based units: "812 B", "45.2 kB", "4.57 MB". */
export function fmtBytes(b: number | null | undefined): string {
  if (b === null || b === undefined || !Number.isFinite(b)) return '-';
  if (b < 1000) return `${Math.round(b)} B`;
  if (b < 1e6) return `${(b / 1000).toFixed(1)} kB`;
  return `${(b / 1e6).toFixed(2)} MB`;
}
