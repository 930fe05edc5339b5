// Pure parts of the live view: formatting, sparklines, rate history, layout, the stats line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  SPARK_CHARS, cutAnsi, emptyHistory, formatBytes, formatDuration, formatLimit, formatMs, formatRate, formatRatio, isSixel, pushHistory, sparkline,
} from '../../src/render/tui/format.js';
import { MIN_DISPLAY_COLS, MIN_DISPLAY_ROWS, computeLayout } from '../../src/render/tui/layout.js';
import { formatStatsLine } from '../../src/render/tui/stats-line.js';
import { fakeSnapshot } from '../../src/render/tui/fake-snapshot.js';
import type { SessionSnapshot } from '../../src/session/stats/snapshot.js';
import { assertNoInkImports } from './tui-helpers.js';

test('bytes, rates, ratios, durations are short and human-readable', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(999), '999 B');
  assert.equal(formatBytes(1000), '1.0 KiB'); // never four digits: the columns stay narrow
  assert.equal(formatBytes(1024), '1.0 KiB');
  assert.equal(formatBytes(999 * 1024), '999.0 KiB');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(1024 * 1024 - 1), '1.0 MiB'); // not "1024.0 KiB"
  assert.equal(formatBytes(999.96 * 1024), '1.0 MiB'); // not "1000.0 KiB"
  for (let n = 1; n < 2 ** 50; n = n * 1.37 + 1) assert.ok(formatBytes(n).length <= 9, formatBytes(n));
  assert.equal(formatBytes(5 * 1024 ** 3), '5.0 GiB');
  assert.equal(formatBytes(-1), '-');
  assert.equal(formatBytes(NaN), '-');
  assert.equal(formatRate(2.5 * 1024 * 1024), '2.5 MiB/s');
  assert.equal(formatRate(0), '0 B/s');
  assert.equal(formatRatio(2.345), '2.35x');
  assert.equal(formatRatio(null), '-');
  assert.equal(formatMs(null), '-');
  assert.equal(formatMs(3.24), '3.2 ms');
  assert.equal(formatMs(42.6), '43 ms');
  assert.equal(formatDuration(0), '0:00');
  assert.equal(formatDuration(61_999), '1:01');
  assert.equal(formatDuration(3_723_000), '1:02:03');
  assert.equal(formatLimit(null), 'none');
  assert.equal(formatLimit(1024 * 1024), '1.0 MiB/s');
});

test('sparkline scales to the largest sample; zero is flat, a trickle still shows', () => {
  assert.equal(sparkline([0, 1, 2, 4, 8]), '▁▂▃▅█');
  assert.equal(sparkline([0, 0, 0]), '▁▁▁');
  assert.equal(sparkline([1, 1000]), '▂█');
  assert.equal(sparkline([5], 4), '   █', 'padded on the left while the history fills');
  assert.equal(sparkline([1, 2, 3, 4, 5, 6], 3), sparkline([4, 5, 6]), 'only the last `width` samples');
  for (const ch of sparkline([3, 1, 4, 1, 5, 9, 2, 6])) assert.ok(SPARK_CHARS.includes(ch as never));
});

test('rate history: one sample a second of snapshot time, bounded, channels that left dropped', () => {
  const snap = (t: number, rate: number, names = ['main:0', 'display:0']) => ({
    t, channels: names.map((name) => ({ name, rateIn: rate, rateOut: rate * 2 })),
  });
  let h = emptyHistory();
  h = pushHistory(h, snap(0, 1), 4);
  const same = pushHistory(h, snap(500, 99), 4);
  assert.equal(same, h, 'less than everyMs later: unchanged (same object)');
  for (let i = 1; i <= 10; i++) h = pushHistory(h, snap(i * 1000, i + 1), 4);
  assert.deepEqual(h.channels['main:0'], { in: [8, 9, 10, 11], out: [16, 18, 20, 22] });
  h = pushHistory(h, snap(11_000, 1, ['main:0']), 4);
  assert.deepEqual(Object.keys(h.channels), ['main:0']);
});

test('cutAnsi: cuts visible cells, keeps escapes, resets when cut', () => {
  const px = (c: string) => `\x1b[38;2;1;2;3m\x1b[48;2;4;5;6m${c}`;
  const line = px('a') + px('b') + px('c') + '\x1b[0m';
  assert.equal(cutAnsi(line, 5), line, 'short enough: untouched');
  assert.equal(cutAnsi(line, 2), px('a') + px('b') + '\x1b[38;2;1;2;3m\x1b[48;2;4;5;6m\x1b[0m');
  assert.equal(cutAnsi('▀▀▀▀', 2), '▀▀\x1b[0m');
  assert.equal(cutAnsi('', 3), '');
  assert.equal(cutAnsi('abc', 0), '\x1b[0m');
});

test('isSixel: DCS introducers only', () => {
  assert.ok(isSixel('\x1bPq#0;2;0;0;0#0~~\x1b\\'));
  assert.ok(isSixel('\x90q~~\x9c'));
  assert.ok(!isSixel('\x1b[38;2;1;2;3m▀'));
  assert.ok(!isSixel(null));
  assert.ok(!isSixel(''));
});

test('layout: beside on wide terminals, below on narrow ones, none when too small or hidden', () => {
  const side = computeLayout({ cols: 200, rows: 50, showDisplay: true, panelCols: 100, panelRows: 10 });
  assert.equal(side.mode, 'side');
  assert.deepEqual(side.display, { x: 0, y: 0, cols: 99, rows: 48 });
  assert.deepEqual(side.panel, { x: 100, y: 0, cols: 100, rows: 48 });
  assert.deepEqual(side.status, { x: 0, y: 48, cols: 200, rows: 1 });
  assert.equal(side.rows, 49, 'one row less than the terminal: Ink ends its frame with a newline');

  const below = computeLayout({ cols: 120, rows: 40, showDisplay: true, panelCols: 100, panelRows: 10 });
  assert.equal(below.mode, 'below');
  assert.deepEqual(below.display, { x: 0, y: 0, cols: 120, rows: 28 });
  assert.deepEqual(below.panel, { x: 0, y: 28, cols: 120, rows: 10 });

  const cramped = computeLayout({ cols: 120, rows: 10 + 2 + MIN_DISPLAY_ROWS - 1, showDisplay: true, panelCols: 100, panelRows: 10 });
  assert.equal(cramped.mode, 'none');
  assert.equal(cramped.display, null);

  const hidden = computeLayout({ cols: 200, rows: 50, showDisplay: false, panelCols: 100, panelRows: 10 });
  assert.equal(hidden.mode, 'none');
  assert.deepEqual(hidden.panel, { x: 0, y: 0, cols: 200, rows: 48 });

  const edge = computeLayout({ cols: 100 + 1 + MIN_DISPLAY_COLS, rows: 50, showDisplay: true, panelCols: 100, panelRows: 10 });
  assert.equal(edge.mode, 'side');
  assert.equal(edge.display!.cols, MIN_DISPLAY_COLS);
});

const fixed: SessionSnapshot = {
  t: 1_700_000_000_000,
  uptimeMs: 65_000,
  channels: [
    { name: 'main:0', state: 'ready', tls: true, bytesIn: 1000, bytesOut: 200, messagesIn: 10, messagesOut: 3, rateIn: 123.456, rateOut: 0 },
    { name: 'usbredir:0', state: 'ready', tls: false, bytesIn: 5000, bytesOut: 4000, messagesIn: 50, messagesOut: 40, rateIn: 2048, rateOut: 1024.04 },
  ],
  usb: [{
    channel: 'usbredir:0', device: 'disk', payloadIn: 12000, payloadOut: 4000, wireIn: 5000, wireOut: 4000,
    ratioIn: 2.4, ratioOut: 1, lz4: true, limit: 1048576,
  }],
  pingMs: 3.14159,
  display: { width: 1024, height: 768, fps: 23.456 },
  mouseMode: 'client',
  agentConnected: true,
};

test('stats line: one line of JSON with the numbers the live view shows', () => {
  const line = formatStatsLine(fixed);
  assert.ok(!line.includes('\n'));
  const o = JSON.parse(line);
  assert.equal(o.t, fixed.t);
  assert.equal(o.uptimeMs, 65_000);
  assert.equal(o.pingMs, 3.1);
  assert.deepEqual(o.display, { width: 1024, height: 768, fps: 23.5 });
  assert.equal(o.mouseMode, 'client');
  assert.equal(o.agent, true);
  assert.deepEqual(o.channels[0], {
    channel: 'main:0', state: 'ready', tls: true, bytesIn: 1000, bytesOut: 200, rateIn: 123.5, rateOut: 0, messagesIn: 10, messagesOut: 3,
  });
  assert.equal(o.channels[1].rateOut, 1024);
  assert.deepEqual(o.usb[0], {
    channel: 'usbredir:0', device: 'disk', lz4: true, limit: 1048576,
    payloadIn: 12000, payloadOut: 4000, wireIn: 5000, wireOut: 4000, ratioIn: 2.4, ratioOut: 1,
  });
  const empty = JSON.parse(formatStatsLine({ ...fixed, channels: [], usb: [], pingMs: null, display: null, mouseMode: null }));
  assert.deepEqual([empty.channels, empty.usb, empty.pingMs, empty.display, empty.mouseMode], [[], [], null, null, null]);
  // The fake session used by the demo formats too.
  assert.equal(JSON.parse(formatStatsLine(fakeSnapshot(5000))).channels.length, 6);
});

test('the stats line and the pure helpers do not load Ink or React', () => {
  // Follow stats-line.ts's local imports: none of them may import ink or react.
  const seen = assertNoInkImports(['stats-line.ts', 'format.ts', 'layout.ts', 'sixel-overlay.ts'].map((f) => new URL(`../../src/render/tui/${f}`, import.meta.url)));
  assert.ok(seen.size >= 4);
});
