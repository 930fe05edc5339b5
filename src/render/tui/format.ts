// Pure formatting for the live view and the stats line: numbers in, short strings out.
// No Ink or React here, so stats-line.ts (used off a TTY) can import it cheaply.

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const;

/**
 * 0 B, 999 B, 1.0 KiB, 12.3 MiB ... (binary units, one decimal above bytes). A unit is never
 * shown with four integer digits ("1010.0 KiB" is "1.0 MiB"), so the text is at most 9 wide
 * below a PiB.
 */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '-';
  let v = n;
  let u = 0;
  while (u < UNITS.length - 1 && (u === 0 ? v >= 1000 : v >= 999.95)) {
    v /= 1024;
    u++;
  }
  if (u === 0) return `${Math.round(v)} B`;
  return `${v.toFixed(1)} ${UNITS[u]}`;
}

/** Bytes per second, e.g. "1.5 MiB/s". */
export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(bytesPerSecond)}/s`;
}

/** payload / wire ratio: "2.35x", or "-" when there is nothing to compare yet. */
export function formatRatio(r: number | null): string {
  return r === null || !Number.isFinite(r) ? '-' : `${r.toFixed(2)}x`;
}

/** Round trip in ms: "12.3 ms", "-" when unknown. */
export function formatMs(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '-';
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

/** Uptime as m:ss, or h:mm:ss past an hour. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** USB bandwidth limit: "none" or a rate. */
export function formatLimit(limit: number | null): string {
  return limit === null ? 'none' : formatRate(limit);
}

export const SPARK_CHARS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'] as const;

/**
 * One character per sample, scaled to the largest sample shown. Zero is always '▁' and any
 * non-zero sample at least '▂', so an idle channel reads as flat and a trickle still shows.
 * Left-padded with spaces to `width` so columns stay aligned while the history fills.
 */
export function sparkline(values: readonly number[], width = values.length): string {
  const shown = values.slice(-width);
  const max = shown.reduce((m, v) => (v > m ? v : m), 0);
  let out = '';
  for (const v of shown) {
    if (!(v > 0) || max <= 0) out += SPARK_CHARS[0];
    else out += SPARK_CHARS[Math.max(1, Math.min(7, Math.ceil((v / max) * 7)))];
  }
  return out.padStart(width, ' ');
}

/** Recent rates per channel, oldest first, at most `max` samples each. */
export interface RateHistory {
  /** snapshot time (ms) of the last sample taken */
  at: number;
  channels: Record<string, { in: number[]; out: number[] }>;
}

export const emptyHistory = (): RateHistory => ({ at: -Infinity, channels: {} });

/**
 * Adds one sample per channel from a snapshot's rates, at most one every `everyMs` of snapshot
 * time (the rates are averages over whole seconds, so sampling faster only repeats them).
 * Returns the same object when nothing was added (cheap for React state), a new one otherwise.
 * Channels gone from the snapshot are dropped; the history is bounded by channels x max.
 */
export function pushHistory(
  h: RateHistory,
  snap: { t: number; channels: readonly { name: string; rateIn: number; rateOut: number }[] },
  max = 16,
  everyMs = 1000,
): RateHistory {
  if (snap.t - h.at < everyMs) return h;
  const channels: RateHistory['channels'] = {};
  for (const c of snap.channels) {
    const prev = h.channels[c.name];
    channels[c.name] = {
      in: [...(prev?.in ?? []), c.rateIn].slice(-max),
      out: [...(prev?.out ?? []), c.rateOut].slice(-max),
    };
  }
  return { at: snap.t, channels };
}

/** True for sixel data (a DCS introducer, 7-bit ESC P or 8-bit 0x90), which Ink must not lay out. */
export function isSixel(s: string | null | undefined): boolean {
  return !!s && (s.startsWith('\x1bP') || s.charCodeAt(0) === 0x90);
}

/**
 * The first `cols` cells of a line of ANSI text (one cell a character, as half-block art is),
 * keeping every escape sequence so colours stay balanced, and resetting attributes if cut.
 * Ink's own truncation would add an ellipsis, which is wrong for pixels.
 */
export function cutAnsi(line: string, cols: number): string {
  let shown = 0;
  let i = 0;
  while (i < line.length) {
    if (line.charCodeAt(i) === 0x1b) {
      const m = /^\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])/.exec(line.slice(i, i + 256));
      i += m ? m[0].length : 1;
      continue;
    }
    if (shown === cols) return line.slice(0, i) + '\x1b[0m';
    const cp = line.codePointAt(i)!;
    i += cp > 0xffff ? 2 : 1;
    shown++;
  }
  return line;
}
