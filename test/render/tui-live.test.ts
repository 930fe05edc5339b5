// The pieces that keep the live view off the channels' backs: the terminal query (DA1 & co),
// the display renderer (worker thread), the non-blocking terminal writer, the sixel overlay's
// drop policy, and the NDJSON stats printer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RESET_COLOR_REGISTERS, TERMINAL_QUERIES, parseTerminalReplies, queryTerminal } from '../../src/render/tui/terminal-query.js';
import { DisplayRenderer } from '../../src/render/tui/display-renderer.js';
import { renderJob } from '../../src/render/tui/render-job.js';
import { createTtyWriter } from '../../src/render/tui/tty-writer.js';
import { createSixelOverlay } from '../../src/render/tui/sixel-overlay.js';
import { inCi, interactive, startStatsLines } from '../../src/render/tui/live.js';
import { fakeSnapshot } from '../../src/render/tui/fake-snapshot.js';
import { Surface } from '../../src/render/surface.js';
import { renderAnsi } from '../../src/render/outputs/ansi.js';
import { renderSixel } from '../../src/render/outputs/sixel.js';
import { assertNoInkImports, until } from './tui-helpers.js';


// Replies seen from xterm 379 started as `xterm -ti vt340 -geometry 200x60` (allowWindowOps off:
// no CSI 16 t answer) and from tmux 3.3.
const XTERM_VT340 = '\x1b[?2;0;1000;780S\x1b[?1;0;1024S\x1b[?63;1;2;4;6;9;15;16;22;28c';
const TMUX = '\x1b[?1;2c';

test('terminal replies: sixel from DA1 attribute 4, the cell size from CSI 16 t or the graphics area', () => {
  const x = parseTerminalReplies(XTERM_VT340, { cols: 200, rows: 60 });
  assert.equal(x.replied, true);
  assert.equal(x.sixel, true);
  assert.deepEqual(x.graphics, { width: 1000, height: 780 });
  assert.deepEqual(x.cell, { width: 5, height: 13 }, 'area / (cols, rows): width capped at 1000 px');
  assert.equal(x.colorRegisters, 1024);
  const withCell = parseTerminalReplies(`\x1b[6;13;6t${XTERM_VT340}`, { cols: 200, rows: 60 });
  assert.deepEqual(withCell.cell, { width: 6, height: 13 });
  const t = parseTerminalReplies(TMUX);
  assert.equal(t.replied, true);
  assert.equal(t.sixel, false);
  assert.equal(t.cell, null);
  assert.equal(parseTerminalReplies('\x1b[?64;14;22c').sixel, false, '"4" as in 14 is not attribute 4');
  assert.equal(parseTerminalReplies('\x1b[?4;1c').sixel, false, 'the first parameter is the class, not an attribute');
  assert.equal(parseTerminalReplies('').replied, false);
});

/** A fake terminal: answers each write of queries with `answer(query)` on stdin. */
function fakeTty(answer: (q: string) => string | null, size = { columns: 200, rows: 60 }) {
  const stdin = Object.assign(new EventEmitter(), {
    isTTY: true,
    isRaw: false,
    modes: [] as boolean[],
    setRawMode(v: boolean) {
      this.isRaw = v;
      this.modes.push(v);
      return this;
    },
    resume() {},
    pause() {},
  });
  const written: string[] = [];
  const stdout = Object.assign(new EventEmitter(), {
    isTTY: true,
    ...size,
    write(s: string) {
      written.push(s);
      const a = answer(s);
      if (a !== null) setTimeout(() => stdin.emit('data', Buffer.from(a, 'latin1')), 5);
      return true;
    },
  });
  return { stdin: stdin as unknown as NodeJS.ReadStream & { modes: boolean[] }, stdout: stdout as unknown as NodeJS.WriteStream, written };
}

test('queryTerminal: one exchange ended by DA1; raw mode on, then back off; asks for more colour registers', async () => {
  const t = fakeTty((q) => (q === TERMINAL_QUERIES ? '\x1b[?2;0;600;390S\x1b[?1;0;16S\x1b[?63;1;2;4c' : q.includes('?1;3;256S') ? '\x1b[?1;0;256S\x1b[?63;1;2;4c' : null), { columns: 100, rows: 30 });
  const t0 = performance.now();
  const info = await queryTerminal(t.stdin, t.stdout, { timeoutMs: 2000, colorRegisters: 256 });
  assert.ok(performance.now() - t0 < 1000, 'no waiting for the timeout');
  assert.equal(info.sixel, true);
  assert.deepEqual(info.cell, { width: 6, height: 13 });
  assert.equal(info.colorRegisters, 256);
  assert.equal(info.colorRegistersSet, true);
  assert.equal(t.written.length, 2);
  assert.deepEqual(t.stdin.modes, [true, false]);
  assert.equal(RESET_COLOR_REGISTERS, '\x1b[?1;2;0S');

  const mute = fakeTty(() => null);
  const t1 = performance.now();
  const none = await queryTerminal(mute.stdin, mute.stdout, { timeoutMs: 100 });
  assert.ok(performance.now() - t1 >= 95);
  assert.equal(none.replied, false);
  assert.equal(none.sixel, false);

  const pipe = await queryTerminal({ isTTY: false } as NodeJS.ReadStream, t.stdout);
  assert.equal(pipe.replied, false, 'not a TTY: nothing asked');
});

function testSurface(w = 64, h = 48): Surface {
  const s = new Surface(0, w, h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 4;
      s.data[o] = (x * 4) & 255; // B
      s.data[o + 1] = (y * 5) & 255; // G
      s.data[o + 2] = x < w / 2 ? 200 : 20; // R
    }
  }
  return s;
}

test('renderJob gives the same bytes as the renderers on the surface', () => {
  const s = testSurface();
  const job = (format: 'ansi' | 'sixel') => renderJob({
    id: 1, format, width: s.width, height: s.height, bgra: new Uint8Array(s.data), hasAlpha: s.hasAlpha, cols: 20, rows: 8, cellWidth: 6, cellHeight: 12,
  });
  assert.equal(job('ansi'), renderAnsi(s, { cols: 20, rows: 8 }));
  assert.equal(job('sixel'), renderSixel(s, { cols: 20, rows: 8, cellWidth: 6, cellHeight: 12 }));
});

test('DisplayRenderer: renders in a worker, returns at once, one job at a time, again only when the surface changed', async () => {
  const s = testSurface(320, 240);
  let version = 1;
  const r = new DisplayRenderer({ format: 'sixel', source: () => ({ surface: s, version }), cell: { width: 6, height: 12 } });
  try {
    assert.equal(r.render(30, 10), null, 'nothing yet: the first frame is being rendered');
    assert.equal(r.render(30, 10), null);
    assert.equal(r.stats.busy, 1, 'the second call found the worker busy and skipped');
    const text = await until('the first frame', () => r.render(30, 10));
    assert.equal(text, renderSixel(s, { cols: 30, rows: 10, cellWidth: 6, cellHeight: 12 }));
    assert.equal(r.stats.inThread, 0, 'rendered in the worker');
    const n = r.stats.rendered;
    assert.equal(r.render(30, 10), text);
    assert.equal(r.stats.rendered, n, 'same surface version: nothing new to render');
    s.data.fill(255);
    version++;
    assert.equal(r.render(30, 10), text, 'the previous frame until the new one is ready');
    const next = await until('the new frame', () => (r.render(30, 10) !== text ? r.render(30, 10) : null));
    assert.equal(next, renderSixel(s, { cols: 30, rows: 10, cellWidth: 6, cellHeight: 12 }));
    assert.equal(r.render(40, 10), null, 'a sixel for another box is not shown while the new one renders');
  } finally {
    await r.close();
  }
});

test('DisplayRenderer: ANSI without a worker renders in this thread; no surface, no frame', async () => {
  const s = testSurface();
  let surface: Surface | undefined;
  const r = new DisplayRenderer({ format: 'ansi', source: () => ({ surface, version: 1 }), worker: false });
  assert.equal(r.render(20, 8), null);
  surface = s;
  assert.equal(r.render(20, 8), renderAnsi(s, { cols: 20, rows: 8 }));
  assert.equal(r.stats.inThread, 1);
  assert.equal(r.render(24, 8)?.length, renderAnsi(s, { cols: 24, rows: 8 }).length, 'ANSI: re-rendered at once for the new box');
  await r.close();
});

test('tty writer: ordered writes from a worker, backlog counted, flush waits for the bytes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'spicectl-ttyw-'));
  const file = join(dir, 'out');
  const fd = openSync(file, 'w');
  const fakeOut = Object.assign(new EventEmitter(), { isTTY: true, columns: 80, rows: 24, fd, write: () => { throw new Error('must not be called'); } });
  const w = createTtyWriter(fakeOut as unknown as NodeJS.WriteStream, fd);
  const parts: string[] = [];
  for (let i = 0; i < 200; i++) parts.push(`frame ${i} ${'▀'.repeat(i % 50)}\n`);
  for (const p of parts) assert.equal(w.stream.write(p), true);
  assert.ok(w.backlog() > 0);
  assert.equal(w.stream.columns, 80, 'everything but write() is the real stream');
  await w.flush();
  assert.equal(w.backlog(), 0);
  assert.equal(readFileSync(file, 'utf8'), parts.join(''));
  let called = false;
  w.stream.write('end\n', () => (called = true));
  await w.close();
  assert.equal(called, true);
  closeSync(fd);
  assert.ok(readFileSync(file, 'utf8').endsWith('end\n'));
});

test('sixel overlay: while the terminal is busy the image is left out of frames, then drawn at the next set()', async () => {
  const writes: string[] = [];
  const out = Object.assign(new EventEmitter(), { isTTY: true, columns: 80, rows: 24, write: (s: string) => (writes.push(s), true) });
  let busy = false;
  const o = createSixelOverlay(out as unknown as NodeJS.WriteStream, { busy: () => busy });
  const six = '\x1bP0;1;0q"1;1;1;1#0!1~\x1b\\';
  o.set(six, { x: 0, y: 0 });
  o.stream.write('frame 1\n');
  assert.ok(writes.at(-1)!.endsWith(o.sequence()), 'carried by the frame');
  busy = true;
  o.stream.write('frame 2\n');
  assert.equal(writes.at(-1), 'frame 2\n', 'dropped from a frame while busy');
  o.set(six, { x: 0, y: 0 });
  await new Promise((r) => setImmediate(r));
  assert.equal(writes.length, 2, 'still busy: not written alone either');
  busy = false;
  o.set(six, { x: 0, y: 0 });
  await new Promise((r) => setImmediate(r));
  assert.equal(writes.at(-1), o.sequence(), 'owed, so the same image is written again once the terminal caught up');
  const n = writes.length;
  o.set(six, { x: 0, y: 0 });
  await new Promise((r) => setImmediate(r));
  assert.equal(writes.length, n, 'not owed: the same image is not rewritten');
});

test('stats lines: one NDJSON line per interval, and a last one on stop(true)', async () => {
  const lines: string[] = [];
  let n = 0;
  const p = startStatsLines(() => fakeSnapshot(1000 * ++n, 1e12 + n), 20, (l) => lines.push(l));
  await until('3 lines', () => lines.length >= 3);
  p.stop(true);
  const count = lines.length;
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(lines.length, count, 'stopped');
  for (const l of lines) {
    const j = JSON.parse(l);
    assert.deepEqual(Object.keys(j), ['t', 'uptimeMs', 'pingMs', 'display', 'mouseMode', 'agent', 'channels', 'usb']);
  }
  assert.equal(JSON.parse(lines.at(-1)!).uptimeMs, 1000 * n, 'the last line is taken at stop');
});

test('live view choice: a TTY outside CI (Ink\'s own CI rule)', () => {
  const tty = { isTTY: true } as NodeJS.WriteStream;
  assert.equal(interactive(tty, {}), true);
  assert.equal(interactive(tty, { CI: 'true' }), false);
  assert.equal(interactive(tty, { CI: '0' }), true);
  assert.equal(interactive(tty, { CI: 'false' }), true);
  assert.equal(interactive(tty, { CONTINUOUS_INTEGRATION: '1' }), false);
  assert.equal(interactive({ isTTY: false } as NodeJS.WriteStream, {}), false);
  assert.equal(inCi({ CI: '' }), true);
});

test('live.ts and what it imports statically do not load Ink or React (off a TTY they are never loaded)', () => {
  const seen = assertNoInkImports([new URL('../../src/render/tui/live.ts', import.meta.url)]);
  assert.ok([...seen].some((u) => u.endsWith('display-renderer.ts')));
});
