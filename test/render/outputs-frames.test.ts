// Frame sinks: numbered PNGs only when the surface changed, ticks skipped (not queued) while a
// write runs, terminal frames paused while the terminal has not drained.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Surface } from '../../src/render/surface.js';
import { Ropd } from '../../src/render/types.js';
import { decodePng } from '../../src/render/outputs/png.js';
import { FrameSink, encodeSurfacePngAsync, frameFileName } from '../../src/render/outputs/frames.js';

function surface(): Surface {
  const s = new Surface(0, 20, 10);
  s.fill({ top: 2, left: 3, bottom: 8, right: 15 }, null, 0x336699, Ropd.OP_PUT);
  return s;
}

test('the async PNG encoder round-trips through our decoder', async () => {
  const s = surface();
  const png = decodePng(await encodeSurfacePngAsync(s));
  assert.equal(png.width, 20);
  assert.deepEqual(Buffer.from(png.rgba), s.toRGBA());
});

test('screenshots: one file per change, busy ticks skipped, idle ticks write nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'spicectl-frames-'));
  const s = surface();
  let version = 1;
  const sink = new FrameSink({ source: () => ({ surface: s, version }), screenshotEveryMs: 1000, screenshotDir: dir });
  sink.start();
  sink.pngTick(); // writes frame 1 (in the background)
  sink.pngTick(); // unchanged: idle
  version++;
  sink.pngTick(); // changed but frame 1 is still being written: skipped, not queued
  assert.equal(sink.stats.screenshotBusy, 1);
  assert.equal(sink.stats.screenshotIdle, 1);
  await sink.stop();
  assert.deepEqual(readdirSync(dir), [frameFileName(1)]);
  sink.pngTick(); // the change is still pending: frame 2
  await sink.stop();
  assert.deepEqual(readdirSync(dir).sort(), [frameFileName(1), frameFileName(2)]);
  const png = decodePng(readFileSync(join(dir, 'frame-000002.png')));
  assert.deepEqual(Buffer.from(png.rgba), s.toRGBA());
  assert.equal(sink.stats.screenshots, 2);
});

test('terminal frames: home + frame, skipped while the terminal drains, again after drain', () => {
  const writes: string[] = [];
  let accept = true;
  const out = Object.assign(new EventEmitter(), { write: (s: string) => { writes.push(s); return accept; } }) as unknown as NodeJS.WritableStream;
  const s = surface();
  let version = 1;
  const sink = new FrameSink({ source: () => ({ surface: s, version }), terminal: { format: 'ansi', out, cols: 20, rows: 5 } });
  sink.termTick();
  assert.equal(writes.length, 1);
  assert.ok(writes[0]!.startsWith('\x1b[H\x1b[38;2;'));
  sink.termTick(); // unchanged
  assert.equal(writes.length, 1);
  accept = false;
  version++;
  sink.termTick(); // written, terminal now full
  version++;
  sink.termTick(); // skipped
  sink.termTick();
  assert.equal(writes.length, 2);
  assert.equal(sink.stats.renderBusy, 2);
  accept = true;
  out.emit('drain');
  sink.termTick();
  assert.equal(writes.length, 3);
  const six = new FrameSink({ source: () => ({ surface: s, version }), terminal: { format: 'sixel', out, cols: 20, rows: 5, cellWidth: 1, cellHeight: 2 } });
  six.termTick();
  assert.ok(writes[3]!.startsWith('\x1b[H\x1bP0;1;0q"1;1;20;10'));
});

test('the timers run on their own and never keep the process alive', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'spicectl-frames-'));
  const s = surface();
  let version = 0;
  const sink = new FrameSink({ source: () => ({ surface: s, version: version++ }), screenshotEveryMs: 20, screenshotDir: dir });
  sink.start();
  await new Promise((r) => setTimeout(r, 200));
  await sink.stop();
  const n = readdirSync(dir).filter((f) => f.endsWith('.png')).length;
  assert.ok(n >= 2 && n === sink.stats.screenshots, `${n} files`);
});
