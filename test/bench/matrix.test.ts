import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildCells, cellName, formatMatrix, parseCompressList, parseLimitList, progressLine, renderTable, runBytes, summarizeCell,
  type ByteCounters, type Cell, type RunResult,
} from '../../src/bench/matrix.js';
import { POINTS, emptyTimeline } from '../../src/bench/timeline.js';

test('--compress and --limit lists', () => {
  assert.deepEqual(parseCompressList('lz4, off,lz4'), ['lz4', 'off']);
  assert.throws(() => parseCompressList('zstd'), /not lz4 or off/);
  assert.throws(() => parseCompressList(' , '), /needs/);
  assert.deepEqual(parseLimitList('none,30KB/s,30000'), [{ limit: null, text: 'none' }, { limit: 30000, text: '30KB/s' }]);
  assert.throws(() => parseLimitList('fast'), /not a rate/);
});

test('cells: compression x limit, named', () => {
  const cells = buildCells(['lz4', 'off'], parseLimitList('none,30KB/s'));
  assert.deepEqual(cells.map(cellName), ['lz4/free', 'lz4/30KB/s', 'off/free', 'off/30KB/s']);
});

function run(cell: Cell, n: number, scale: number, extra: Partial<RunResult> = {}): RunResult {
  const timeline = emptyTimeline();
  POINTS.forEach((p, i) => (timeline[p.key] = (i + 1) * 100 * scale));
  timeline.firstReadLba0 = null;
  return {
    cell: cellName(cell), compress: cell.compress, limit: cell.limit, run: n, ok: true, timeline,
    ready: 900 * scale, readyLine: 'MARK mounted 1.0', marks: { 'usb-attached': 500 * scale, mounted: 900 * scale, 'usb-detached': 5000 },
    bytes: { payloadIn: 5000, payloadOut: 300_000, bodyIn: 5000, bodyOut: 150_000, wireIn: 6000, wireOut: 151_000, sessionIn: 262_000, sessionOut: 152_000, linkIn: null, linkOut: null, lz4RatioIn: 1, lz4RatioOut: 2, compressedIn: 0, compressedOut: 9 },
    client: { turns: 50, ms: 10 * scale },
    lz4: true,
    scsi: { commands: 10, failures: 0, opcodes: { INQUIRY: 2, 'READ(10)': 4 + n }, senses: {} },
    controlRequests: 7, channels: {}, detach: { ms: 100, by: 'guest' },
    ...extra,
  };
}

test('a cell summary: min / median / max over the successful runs only', () => {
  const [cell] = buildCells(['lz4'], parseLimitList('none'));
  const runs = [run(cell!, 1, 1), run(cell!, 2, 3), run(cell!, 3, 2), run(cell!, 4, 100, { ok: false, error: { code: 'timeout', message: 'x' } })];
  const s = summarizeCell(cell!, runs);
  assert.equal(s.runs, 4);
  assert.equal(s.ok, 3);
  assert.deepEqual(s.points.usbredirUp, { n: 3, min: 300, median: 600, max: 900, mean: 600 });
  assert.equal(s.points.firstReadLba0.n, 0);
  assert.equal(s.ready.median, 1800);
  // guest marks, ordered by time, without the detach events
  assert.deepEqual(Object.keys(s.marks), ['usb-attached', 'mounted']);
  assert.equal(s.bytes.lz4RatioOut.median, 2);
  assert.deepEqual(s.opcodes, { INQUIRY: 2, 'READ(10)': 6 });
});

test('the matrix table: a row per point that was seen, the oracle, marks, bytes, histogram', () => {
  const cells = buildCells(['lz4', 'off'], parseLimitList('none'));
  const sums = cells.map((c, i) => summarizeCell(c, [run(c, 1, 1 + i), run(c, 2, 2 + i)]));
  const lines = formatMatrix(sums, { ready: 'MARK mounted' });
  const text = lines.join('\n');
  assert.match(lines[0]!, /^seconds from t0 \(min \/ median \/ max\)\s+lz4\/free \(2\/2 ok\)\s+off\/free \(2\/2 ok\)$/);
  assert.match(text, /\nusbredir channel up\s+0\.300 \/ 0\.450 \/ 0\.600\s+0\.600 \/ 0\.750 \/ 0\.900\n/);
  assert.doesNotMatch(text, /first READ of LBA 0/, 'a point no run saw has no row');
  assert.match(text, /\nguest oracle \/MARK mounted\/\s+0\.900 \/ 1\.350 \/ 1\.800/);
  assert.match(text, /\nguest MARK usb-attached\s+/);
  assert.doesNotMatch(text, /usb-detached/);
  assert.match(text, /\nusbredir payload in \/ out\s+5\.0 kB \/ 300\.0 kB/);
  assert.match(text, /\nLZ4 ratio in \/ out\s+1\.00 \/ 2\.00/);
  assert.doesNotMatch(text, /crossed the limited link/, 'no link row without a limit');
  assert.match(text, /\nclient's own time \(replies\)\s+15\.0 ms \(50\)\s+25\.0 ms \(50\)\n/);
  assert.match(text, /\nREAD\(10\)\s+5\.5\s+5\.5$/m);
  // columns line up: every row of the first table has the same width
  const first = lines.slice(0, lines.indexOf(''));
  const width = first[0]!.length;
  for (const l of first) assert.ok(l.length <= width + 2, l);
});

test('a limited cell shows what crossed the link', () => {
  const [free, slow] = buildCells(['lz4'], parseLimitList('none,30KB/s'));
  const r = run(slow!, 1, 1);
  r.bytes = { ...r.bytes, linkIn: 270_000, linkOut: 160_000 };
  const text = formatMatrix([summarizeCell(free!, [run(free!, 1, 1)]), summarizeCell(slow!, [r])]).join('\n');
  assert.match(text, /\ncrossed the limited link in \/ out\s+-\s+270\.0 kB \/ 160\.0 kB/);
  assert.match(text, /\nclient's own time \(replies\)\s+10\.0 ms \(50\)\s+10\.0 ms \(50\)\n/);
});

test("a run's bytes: everything from zero for a fresh session, the difference for a hot-plug run", () => {
  const usb = (n: number) => ({ payloadIn: n, payloadOut: 4 * n, bodyIn: n, bodyOut: 2 * n, wireIn: n + 10, wireOut: 2 * n + 10, compressedIn: 0, compressedOut: n / 100 });
  const before: ByteCounters = { usbredir: usb(1000), channels: { main: { in: 500, out: 50 }, usbredir: { in: 1010, out: 2010 } }, link: { 'main:0': { up: 60, down: 510 } }, turns: { turns: 12, ms: 3.5 } };
  const after: ByteCounters = { usbredir: usb(3000), channels: { main: { in: 700, out: 60 }, usbredir: { in: 3010, out: 6010 } }, link: { 'main:0': { up: 70, down: 710 }, 'usbredir:0': { up: 4000, down: 2000 } }, turns: { turns: 62, ms: 13.5 } };
  const fresh = runBytes(after, null);
  assert.deepEqual(fresh.client, { turns: 62, ms: 13.5 });
  assert.equal(fresh.bytes.payloadOut, 12000);
  assert.equal(fresh.bytes.sessionIn, 3710);
  assert.equal(fresh.bytes.lz4RatioOut, 2);
  assert.equal(fresh.bytes.linkIn, 2710);
  const hot = runBytes(after, before);
  assert.deepEqual(
    { ...hot.bytes },
    { payloadIn: 2000, payloadOut: 8000, bodyIn: 2000, bodyOut: 4000, wireIn: 2000, wireOut: 4000, sessionIn: 2200, sessionOut: 4010, linkIn: 2200, linkOut: 4010, lz4RatioIn: 1, lz4RatioOut: 2, compressedIn: 0, compressedOut: 20 },
  );
  assert.deepEqual(hot.channels, { main: { in: 200, out: 10 }, usbredir: { in: 2000, out: 4000 } });
  assert.deepEqual(hot.client, { turns: 50, ms: 10 }, "the client's own time is the run's difference too");
  // a connection that opened during the run counts from zero
  assert.deepEqual(hot.link, { 'main:0': { up: 10, down: 200 }, 'usbredir:0': { up: 4000, down: 2000 } });
  // no limit: no link counts; no usbredir channel: no usbredir bytes
  const bare = runBytes({ usbredir: null, channels: {}, link: null }, null);
  assert.equal(bare.bytes.linkIn, null);
  assert.equal(bare.bytes.payloadIn, 0);
  assert.equal(bare.link, undefined);
  assert.equal(bare.client, null);
});

test('renderTable pads the label left and the values right', () => {
  assert.deepEqual(renderTable([['a', 'bb'], ['ccc', 'd']]), ['a    bb', 'ccc   d']);
});

test('progress line', () => {
  assert.equal(progressLine(0, 4, 'lz4/free run 1', 8), '[--------] 0/4 lz4/free run 1');
  assert.equal(progressLine(2, 4, 'x', 8), '[####----] 2/4 x');
  assert.equal(progressLine(4, 4, 'done', 8), '[########] 4/4 done');
});
