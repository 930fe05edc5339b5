// Small statistics and plain-text table helpers shared by the benchmarks.

export function sorted(xs: number[]): number[] {
  return [...xs].filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
}

export function min(xs: number[]): number {
  const s = sorted(xs);
  return s.length ? s[0]! : NaN;
}

export function max(xs: number[]): number {
  const s = sorted(xs);
  return s.length ? s[s.length - 1]! : NaN;
}

export function median(xs: number[]): number {
  const s = sorted(xs);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function mean(xs: number[]): number {
  const s = sorted(xs);
  return s.length ? s.reduce((a, b) => a + b, 0) / s.length : NaN;
}

/** "min / median / max" with `digits` decimals. */
export function spread(xs: number[], digits = 1): string {
  if (!sorted(xs).length) return '-';
  return `${fmt(min(xs), digits)} / ${fmt(median(xs), digits)} / ${fmt(max(xs), digits)}`;
}

export function fmt(x: number | null | undefined, digits = 1): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '-';
  return x.toFixed(digits);
}

/** a / b as "1.23x", or "-" when either side is missing. */
export function ratio(a: number | null | undefined, b: number | null | undefined, digits = 2): string {
  if (a === null || a === undefined || b === null || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return '-';
  return `${(a / b).toFixed(digits)}x`;
}

/** A left-aligned first column, right-aligned others; a rule under the header. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? (c ?? '').padEnd(widths[i]!) : (c ?? '').padStart(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Prints to stderr (progress); stdout carries the results. */
export function progress(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

/** Parses "--name value" style numbers with a default, rejecting junk. */
export function numberOption(v: string | undefined, def: number, name: string, minValue = 0): number {
  if (v === undefined) return def;
  const n = Number(v);
  if (!Number.isFinite(n) || n < minValue) throw new Error(`${name} must be a number >= ${minValue}, not "${v}"`);
  return n;
}
