// The benchmark matrix: cells (compression x link limit), the per-run record, per-cell summaries
// and their text rendering (a table of min / median / max per cell), plus the progress bar.
// Pure: values in, strings out.

import { SpiceError } from '../util/errors.js';
import { parseRate } from '../session/limiter.js';
import { POINTS, type PointKey, type Timeline } from './timeline.js';
import { fmtBytes, fmtSummary, summarize, type Summary } from './stats.js';

export type Compress = 'lz4' | 'off';

export interface Cell {
  compress: Compress;
  /** bytes/s per direction for the whole session, null = free link */
  limit: number | null;
  /** the limit as the user wrote it ("30KB/s", "none") */
  limitText: string;
}

export function cellName(c: Cell): string {
  return `${c.compress}/${c.limit === null ? 'free' : c.limitText}`;
}

/** "lz4,off" -> ['lz4', 'off'] (deduplicated, in the given order). */
export function parseCompressList(text: string): Compress[] {
  const out: Compress[] = [];
  for (const raw of text.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean)) {
    if (raw !== 'lz4' && raw !== 'off') throw new SpiceError('usage', `--compress: "${raw}" is not lz4 or off`);
    if (!out.includes(raw)) out.push(raw);
  }
  if (!out.length) throw new SpiceError('usage', '--compress needs lz4, off or lz4,off');
  return out;
}

/** "none,30KB/s" -> [{null,'none'}, {30000,'30KB/s'}]. */
export function parseLimitList(text: string): { limit: number | null; text: string }[] {
  const out: { limit: number | null; text: string }[] = [];
  for (const raw of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const limit = parseRate(raw);
    if (!out.some((o) => o.limit === limit)) out.push({ limit, text: limit === null ? 'none' : raw });
  }
  if (!out.length) throw new SpiceError('usage', '--limit needs at least one rate (or none)');
  return out;
}

export function buildCells(compress: Compress[], limits: { limit: number | null; text: string }[]): Cell[] {
  return compress.flatMap((c) => limits.map((l) => ({ compress: c, limit: l.limit, limitText: l.text })));
}

export interface RunBytes {
  /** usbredir payload (uncompressed usbredir stream) guest->client / client->guest */
  payloadIn: number;
  payloadOut: number;
  /** usbredir message bodies as sent (LZ4 blocks when compressing) */
  bodyIn: number;
  bodyOut: number;
  /** usbredir channel socket bytes, link and headers included */
  wireIn: number;
  wireOut: number;
  /** every channel of the session together, as the client read / wrote them */
  sessionIn: number;
  sessionOut: number;
  /** with a limit: every channel's bytes that crossed the emulated link (null: free link) */
  linkIn: number | null;
  linkOut: number | null;
  /** payload / body; > 1 = LZ4 saved bytes */
  lz4RatioIn: number | null;
  lz4RatioOut: number | null;
  compressedIn: number;
  compressedOut: number;
}

/** Raw byte counters of one session at one moment (what `runBytes` turns into a run's bytes). */
export interface ByteCounters {
  /** the usbredir channel of the device (null: it never opened) */
  usbredir: { payloadIn: number; payloadOut: number; bodyIn: number; bodyOut: number; wireIn: number; wireOut: number; compressedIn: number; compressedOut: number } | null;
  /** wire bytes per channel name ("main", "usbredir") */
  channels: Record<string, { in: number; out: number }>;
  /** with a limit: bytes per link connection ("main:0", "connection3") */
  link: Record<string, { up: number; down: number }> | null;
  /** the usbredir channel's client time so far (its TurnStats; null: it never opened) */
  turns?: ClientTime | null;
}

/** The client's own time: received bytes -> its reply written, summed (TurnStats). */
export interface ClientTime {
  /** replies that followed received bytes */
  turns: number;
  /** ms the client held them, summed */
  ms: number;
}

/**
 * A run's bytes: the counters at its end minus those at its start. A fresh session starts at
 * zero (start = null); a hot-plug run shares its session with the other runs of its cell, so
 * only the difference is its own.
 */
export function runBytes(end: ByteCounters, start: ByteCounters | null): { bytes: RunBytes; channels: RunResult['channels']; link?: RunResult['link']; client: ClientTime | null } {
  const bytes: RunBytes = { payloadIn: 0, payloadOut: 0, bodyIn: 0, bodyOut: 0, wireIn: 0, wireOut: 0, sessionIn: 0, sessionOut: 0, linkIn: null, linkOut: null, lz4RatioIn: null, lz4RatioOut: null, compressedIn: 0, compressedOut: 0 };
  const u = end.usbredir;
  if (u) {
    const s = start?.usbredir;
    for (const k of ['payloadIn', 'payloadOut', 'bodyIn', 'bodyOut', 'wireIn', 'wireOut', 'compressedIn', 'compressedOut'] as const) bytes[k] = u[k] - (s?.[k] ?? 0);
    bytes.lz4RatioIn = bytes.bodyIn ? bytes.payloadIn / bytes.bodyIn : null;
    bytes.lz4RatioOut = bytes.bodyOut ? bytes.payloadOut / bytes.bodyOut : null;
  }
  const client = end.turns ? { turns: end.turns.turns - (start?.turns?.turns ?? 0), ms: end.turns.ms - (start?.turns?.ms ?? 0) } : null;
  const channels: RunResult['channels'] = {};
  for (const [name, c] of Object.entries(end.channels)) {
    const s = start?.channels[name];
    channels[name] = { in: c.in - (s?.in ?? 0), out: c.out - (s?.out ?? 0) };
    bytes.sessionIn += channels[name].in;
    bytes.sessionOut += channels[name].out;
  }
  if (!end.link) return { bytes, channels, client };
  const link: NonNullable<RunResult['link']> = {};
  bytes.linkIn = 0;
  bytes.linkOut = 0;
  for (const [name, c] of Object.entries(end.link)) {
    const s = start?.link?.[name];
    link[name] = { up: c.up - (s?.up ?? 0), down: c.down - (s?.down ?? 0) };
    bytes.linkIn += link[name].down;
    bytes.linkOut += link[name].up;
  }
  return { bytes, channels, link, client };
}

export interface RunResult {
  cell: string;
  compress: Compress;
  limit: number | null;
  /** 1-based run number within the cell */
  run: number;
  ok: boolean;
  error?: { code: string; message: string };
  /** ms from the run's t0 (fresh session: before the TCP connect; hot-plug: the plug) */
  timeline: Timeline;
  /** the guest oracle: ms from t0 to the first --ready match (null: no oracle, or not seen) */
  ready: number | null;
  readyLine?: string;
  /** first time of each guest "MARK <event>" line during the run */
  marks: Record<string, number>;
  bytes: RunBytes;
  /** the client's own time on the usbredir channel during the recognition (null: no channel) */
  client: ClientTime | null;
  /** whether the usbredir channel compressed (both sides had LZ4) */
  lz4: boolean;
  scsi: { commands: number; failures: number; opcodes: Record<string, number>; senses: Record<string, number> };
  controlRequests: number;
  /** wire bytes per channel as the client read / wrote them ("main:0": {in, out}) */
  channels: Record<string, { in: number; out: number }>;
  /**
   * With a limit: bytes per channel that crossed the emulated link ("main:0": {up, down}).
   * More than `channels` says when the client paused reading a channel: TCP still delivers
   * into its receive buffer, over the shared link.
   */
  link?: Record<string, { up: number; down: number }>;
  /** how the run ended and how the gap to the next one was spent */
  detach: { ms: number; by: 'guest' | 'gap' | 'timeout' | 'none' };
}

export interface CellSummary {
  cell: string;
  compress: Compress;
  limit: number | null;
  limitText: string;
  runs: number;
  ok: number;
  points: Record<PointKey, Summary>;
  ready: Summary;
  marks: Record<string, Summary>;
  bytes: Record<keyof RunBytes, Summary>;
  /** the client's own ms per run (ClientTime.ms) and its replies per run */
  clientMs: Summary;
  clientTurns: Summary;
  /** median count per run of each SCSI command */
  opcodes: Record<string, number>;
}

const BYTE_KEYS: (keyof RunBytes)[] = ['payloadIn', 'payloadOut', 'bodyIn', 'bodyOut', 'wireIn', 'wireOut', 'sessionIn', 'sessionOut', 'linkIn', 'linkOut', 'lz4RatioIn', 'lz4RatioOut', 'compressedIn', 'compressedOut'];

/** Guest events that belong to the detach, not to the recognition. */
const DETACH_MARKS = new Set(['usb-detached', 'block-gone']);

export function summarizeCell(cell: Cell, runs: RunResult[]): CellSummary {
  const ok = runs.filter((r) => r.ok);
  const points = Object.fromEntries(POINTS.map((p) => [p.key, summarize(ok.map((r) => r.timeline[p.key]))])) as Record<PointKey, Summary>;
  const markNames: string[] = [];
  for (const r of ok) for (const m of Object.keys(r.marks)) if (!markNames.includes(m) && !DETACH_MARKS.has(m)) markNames.push(m);
  markNames.sort((a, b) => (summarize(ok.map((r) => r.marks[a])).median ?? 0) - (summarize(ok.map((r) => r.marks[b])).median ?? 0));
  const opNames: string[] = [];
  for (const r of ok) for (const o of Object.keys(r.scsi.opcodes)) if (!opNames.includes(o)) opNames.push(o);
  return {
    cell: cellName(cell),
    compress: cell.compress,
    limit: cell.limit,
    limitText: cell.limitText,
    runs: runs.length,
    ok: ok.length,
    points,
    ready: summarize(ok.map((r) => r.ready)),
    marks: Object.fromEntries(markNames.map((m) => [m, summarize(ok.map((r) => r.marks[m]))])),
    bytes: Object.fromEntries(BYTE_KEYS.map((k) => [k, summarize(ok.map((r) => r.bytes[k]))])) as Record<keyof RunBytes, Summary>,
    clientMs: summarize(ok.map((r) => r.client?.ms ?? null)),
    clientTurns: summarize(ok.map((r) => r.client?.turns ?? null)),
    opcodes: Object.fromEntries(opNames.map((o) => [o, summarize(ok.map((r) => r.scsi.opcodes[o] ?? 0)).median ?? 0])),
  };
}

/** Left column + one column per cell, padded; the first row is the header. */
export function renderTable(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd());
}

/**
 * The result table: one row per timeline point, the oracle and the guest marks (seconds from
 * t0, "min / median / max" over the successful runs), then bytes (medians) and the SCSI
 * command histogram (median count per run).
 */
export function formatMatrix(cells: CellSummary[], opts: { ready?: string } = {}): string[] {
  const head = ['seconds from t0 (min / median / max)', ...cells.map((c) => `${c.cell} (${c.ok}/${c.runs} ok)`)];
  const rows: string[][] = [head];
  for (const p of POINTS) {
    if (cells.every((c) => c.points[p.key].n === 0)) continue;
    rows.push([p.label, ...cells.map((c) => fmtSummary(c.points[p.key]))]);
  }
  if (opts.ready !== undefined) rows.push([`guest oracle /${opts.ready}/`, ...cells.map((c) => fmtSummary(c.ready))]);
  const marks: string[] = [];
  for (const c of cells) for (const m of Object.keys(c.marks)) if (!marks.includes(m)) marks.push(m);
  for (const m of marks) rows.push([`guest MARK ${m}`, ...cells.map((c) => (c.marks[m] ? fmtSummary(c.marks[m]!) : '-'))]);
  const med = (c: CellSummary, k: keyof RunBytes) => c.bytes[k].median;
  const out = renderTable(rows);
  const bytes: string[][] = [
    ['bytes per run (median)', ...cells.map((c) => c.cell)],
    ['usbredir payload in / out', ...cells.map((c) => `${fmtBytes(med(c, 'payloadIn'))} / ${fmtBytes(med(c, 'payloadOut'))}`)],
    ['usbredir wire in / out', ...cells.map((c) => `${fmtBytes(med(c, 'wireIn'))} / ${fmtBytes(med(c, 'wireOut'))}`)],
    ['LZ4 ratio in / out', ...cells.map((c) => `${fmtRatio(med(c, 'lz4RatioIn'))} / ${fmtRatio(med(c, 'lz4RatioOut'))}`)],
    ['whole session in / out', ...cells.map((c) => `${fmtBytes(med(c, 'sessionIn'))} / ${fmtBytes(med(c, 'sessionOut'))}`)],
    ["client's own time (replies)", ...cells.map((c) => fmtClient(c))],
  ];
  if (cells.some((c) => c.bytes.linkIn.n > 0)) {
    bytes.push(['crossed the limited link in / out', ...cells.map((c) => (c.bytes.linkIn.n ? `${fmtBytes(med(c, 'linkIn'))} / ${fmtBytes(med(c, 'linkOut'))}` : '-'))]);
  }
  out.push('', ...renderTable(bytes));
  const ops: string[] = [];
  for (const c of cells) for (const o of Object.keys(c.opcodes)) if (!ops.includes(o)) ops.push(o);
  if (ops.length) {
    const hist: string[][] = [['SCSI commands per run (median)', ...cells.map((c) => c.cell)]];
    for (const o of ops) hist.push([o, ...cells.map((c) => String(c.opcodes[o] ?? 0))]);
    out.push('', ...renderTable(hist));
  }
  return out;
}

/** "12.3 ms (51)": the client's median time holding requests, and its replies per run. */
function fmtClient(c: CellSummary): string {
  const ms = c.clientMs.median;
  return ms === null ? '-' : `${ms.toFixed(1)} ms (${Math.round(c.clientTurns.median ?? 0)})`;
}

function fmtRatio(r: number | null): string {
  return r === null ? '-' : r.toFixed(2);
}

/** "[#####-----] 3/10 lz4/free run 2" sized to `width` columns for the bar itself. */
export function progressLine(done: number, total: number, label: string, width = 24): string {
  const f = total > 0 ? Math.min(1, done / total) : 1;
  const full = Math.round(f * width);
  return `[${'#'.repeat(full)}${'-'.repeat(width - full)}] ${done}/${total} ${label}`;
}
