/** @jsxRuntime automatic @jsxImportSource react */
// (tsconfig.json covers src/ only; this pragma gives test files the same JSX transform.)
// The live view as a whole: layout, keys, resize, polling, startTui's terminal handling and
// the sixel overlay. No sleeps: every wait polls a condition until a deadline.
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { cleanup, render } from 'ink-testing-library';
import { App, type AppProps } from '../../src/render/tui/app.js';
import { LiveApp, MIN_REFRESH_MS, LEAVE_ALT_SCREEN, ENTER_ALT_SCREEN, SHOW_CURSOR, startTui } from '../../src/render/tui/run-tui.js';
import { createSixelOverlay, placeSixel } from '../../src/render/tui/sixel-overlay.js';
import { fakeSnapshot } from '../../src/render/tui/fake-snapshot.js';
import type { TuiLayout } from '../../src/render/tui/layout.js';
import type { SessionSnapshot } from '../../src/session/stats/snapshot.js';
import { until } from './tui-helpers.js';

afterEach(() => cleanup());

const strip = (s: string | undefined) => (s ?? '').replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');


/** Frame text once it satisfies `pred`. */
const frameWhere = (lastFrame: () => string | undefined, what: string, pred: (f: string) => boolean) =>
  until(what, () => {
    const f = strip(lastFrame());
    return pred(f) ? f : '';
  });

/** useInput attaches its stdin listener in an effect: wait for it before typing. */
const inputReady = (stdin: EventEmitter) => until('the input handler', () => stdin.listenerCount('readable') > 0);

const snap: SessionSnapshot = fakeSnapshot(10_000, 1_000_000);
const noop = () => {};
const displayText = (cols: number, rows: number) => Array.from({ length: rows }, () => '#'.repeat(cols)).join('\n');

function renderApp(p: Partial<AppProps> = {}) {
  return render(<App snapshot={snap} onQuit={noop} {...p} />);
}

test('App: display on top, tables below, status bar on the last row (100x24)', async () => {
  const layouts: TuiLayout[] = [];
  const { lastFrame } = renderApp({ display: displayText(100, 5), size: { cols: 100, rows: 24 }, onLayout: (l) => layouts.push(l) });
  const f = await frameWhere(lastFrame, 'a frame', (s) => s.includes('channel'));
  const ls = f.split('\n');
  assert.equal(ls.length, 23, 'one row less than the terminal');
  assert.equal(ls[0], '#'.repeat(100));
  const header = ls.findIndex((l) => l.startsWith('channel'));
  const l = layouts.at(-1)!;
  assert.equal(l.mode, 'below');
  assert.equal(header, l.display!.rows, 'the tables start right under the display area');
  assert.match(ls[header + 1]!, /^main:0\s+ready/);
  assert.match(ls[22]!, /^ping .*display 1024x768 @ .* fps.*mouse client.*agent yes.*up 0:10/);
  assert.match(f, /usb device/);
  assert.match(f, /emulated disk 0951:1666\s+in\s+.*x\s+on\s+8\.0 MiB\/s/);
});

test('App: side by side on a wide terminal; no area without a renderer; placeholder before the first image', async () => {
  const wide = renderApp({ display: displayText(300, 50), size: { cols: 160, rows: 30 } });
  const f = await frameWhere(wide.lastFrame, 'a frame', (s) => s.includes('channel'));
  const first = f.split('\n')[0]!;
  assert.match(first, /^#+ channel\s+state/, 'display left, table right on the same rows');
  assert.equal(first.indexOf('channel'), 160 - 99, 'the table keeps its natural width');
  cleanup();

  const none = renderApp({ size: { cols: 100, rows: 24 } });
  assert.match((await frameWhere(none.lastFrame, 'a frame', (s) => s.includes('channel'))).split('\n')[0]!, /^channel/);
  cleanup();

  const waiting = renderApp({ display: null, size: { cols: 100, rows: 30 } });
  await frameWhere(waiting.lastFrame, 'the placeholder', (s) => s.includes('waiting for the display'));
});

test('App: a sixel display leaves its area blank and reports where it is', async () => {
  const layouts: TuiLayout[] = [];
  const sixel = '\x1bPq#0;2;100;0;0#0!20~\x1b\\';
  const { lastFrame } = renderApp({ display: sixel, size: { cols: 100, rows: 30 }, onLayout: (l) => layouts.push(l) });
  const raw = await until('a frame', () => (lastFrame()?.includes('channel') ? lastFrame()! : ''));
  assert.ok(!raw.includes('\x1bP'), 'sixel never goes through Ink');
  const ls = strip(raw).split('\n');
  const box = layouts.at(-1)!.display!;
  assert.deepEqual({ x: box.x, y: box.y, cols: box.cols }, { x: 0, y: 0, cols: 100 });
  for (let i = 0; i < box.rows; i++) assert.equal(ls[i]!.trim(), '', `row ${i} is reserved`);
  assert.match(ls[box.rows]!, /^channel/);
});

test('App keys: q and Ctrl-C quit, k sends Ctrl-Alt-Del, ? and Esc toggle help', async () => {
  let quits = 0;
  let cad = 0;
  const { lastFrame, stdin } = renderApp({ onQuit: () => quits++, onCtrlAltDel: () => cad++, size: { cols: 100, rows: 40 } });
  await inputReady(stdin);
  stdin.write('q');
  await until('onQuit', () => quits === 1);
  stdin.write('\x03');
  await until('onQuit on Ctrl-C', () => quits === 2);

  stdin.write('k');
  await until('onCtrlAltDel', () => cad === 1);
  await frameWhere(lastFrame, 'the message', (s) => s.includes('sent Ctrl-Alt-Del'));

  assert.ok(!strip(lastFrame()).includes('keys'));
  stdin.write('?');
  const help = await frameWhere(lastFrame, 'help', (s) => s.includes('keys') && s.includes('send Ctrl-Alt-Del'));
  assert.match(help, /q {2}quit/);
  assert.match(help, /channel\s+state/, 'the tables stay under the help');
  stdin.write('?');
  await frameWhere(lastFrame, 'help gone', (s) => !s.includes('send Ctrl-Alt-Del'));
  stdin.write('?');
  await frameWhere(lastFrame, 'help again', (s) => s.includes('send Ctrl-Alt-Del'));
  stdin.write('\x1b');
  await frameWhere(lastFrame, 'help closed by Esc', (s) => !s.includes('send Ctrl-Alt-Del'));
});

test('App keys: d hides and shows the display', async () => {
  const layouts: TuiLayout[] = [];
  const { lastFrame, stdin } = renderApp({ display: displayText(100, 40), size: { cols: 100, rows: 30 }, onLayout: (l) => layouts.push(l) });
  await frameWhere(lastFrame, 'the display', (s) => s.startsWith('#'));
  await inputReady(stdin);
  stdin.write('d');
  const hidden = await frameWhere(lastFrame, 'display hidden', (s) => !s.includes('#'));
  assert.match(hidden.split('\n')[0]!, /^channel/);
  await until('onLayout to say the area is gone', () => layouts.at(-1)!.display === null);
  stdin.write('d');
  await frameWhere(lastFrame, 'display back', (s) => s.startsWith('#'));
  await until('onLayout to give the area back', () => layouts.at(-1)!.mode === 'below');
});

test('App keys: s takes a snapshot and shows the path for a while', async () => {
  let n = 0;
  const sync = renderApp({ onSnapshot: () => `/tmp/snap-${++n}.png`, messageMs: 100, size: { cols: 100, rows: 30 } });
  await inputReady(sync.stdin);
  sync.stdin.write('s');
  await frameWhere(sync.lastFrame, 'the path', (s) => s.includes('snapshot saved: /tmp/snap-1.png'));
  await frameWhere(sync.lastFrame, 'the message to go', (s) => !s.includes('snapshot saved') && s.includes('? help'));
  cleanup();

  let resolve!: (p: string) => void;
  const later = renderApp({ onSnapshot: () => new Promise<string>((r) => (resolve = r)), size: { cols: 100, rows: 30 } });
  await inputReady(later.stdin);
  later.stdin.write('s');
  await frameWhere(later.lastFrame, 'saving', (s) => s.includes('saving snapshot'));
  resolve('/tmp/async.png');
  await frameWhere(later.lastFrame, 'the async path', (s) => s.includes('snapshot saved: /tmp/async.png'));
  cleanup();

  const failing = renderApp({ onSnapshot: () => Promise.reject(new Error('disk full')), size: { cols: 100, rows: 30 } });
  await inputReady(failing.stdin);
  failing.stdin.write('s');
  await frameWhere(failing.lastFrame, 'the failure', (s) => s.includes('snapshot failed: disk full'));
  cleanup();

  const missing = renderApp({ size: { cols: 100, rows: 30 } });
  await inputReady(missing.stdin);
  missing.stdin.write('s');
  await frameWhere(missing.lastFrame, 'not available', (s) => s.includes('snapshots are not available'));
});

test('App: re-lays out when the terminal is resized', async () => {
  const layouts: TuiLayout[] = [];
  let cols = 160;
  let rows = 40;
  const r = render(<App snapshot={snap} onQuit={noop} display={displayText(200, 60)} onLayout={(l) => layouts.push(l)} />);
  // ink-testing-library's stdout is 100 columns and has no rows: make it a resizable terminal.
  Object.defineProperty(r.stdout, 'columns', { get: () => cols, configurable: true });
  Object.defineProperty(r.stdout, 'rows', { get: () => rows, configurable: true });
  r.stdout.emit('resize');
  await until('the side layout', () => layouts.at(-1)?.mode === 'side');
  let f = await frameWhere(r.lastFrame, 'side frame', (s) => /^#+ channel/.test(s));
  assert.equal(f.split('\n').length, 39);
  assert.equal(layouts.at(-1)!.display!.cols, 160 - 99 - 1);

  cols = 100;
  rows = 30;
  r.stdout.emit('resize');
  await until('the stacked layout', () => layouts.at(-1)?.mode === 'below');
  f = await frameWhere(r.lastFrame, 'stacked frame', (s) => s.split('\n')[0] === '#'.repeat(100));
  assert.equal(f.split('\n').length, 29);
  assert.deepEqual(layouts.at(-1)!.display, { x: 0, y: 0, cols: 100, rows: 28 - 11 });

  rows = 12; // too short for a display: tables only
  r.stdout.emit('resize');
  await until('no display', () => layouts.at(-1)?.mode === 'none');
  await frameWhere(r.lastFrame, 'tables only', (s) => s.startsWith('channel') && !s.includes('#'));
});

test('App: sparklines grow from successive snapshots', async () => {
  const r = renderApp({ snapshot: fakeSnapshot(0, 0), size: { cols: 100, rows: 30 } });
  await frameWhere(r.lastFrame, 'a frame', (s) => s.includes('main:0'));
  for (let i = 1; i <= 7; i++) r.rerender(<App snapshot={fakeSnapshot(i * 1000, i * 1000)} onQuit={noop} size={{ cols: 100, rows: 30 }} />);
  const f = await frameWhere(r.lastFrame, 'full sparklines', (s) => /display:0 .*[▁▂▃▄▅▆▇█]{7}/.test(s));
  const row = f.split('\n').find((l) => l.startsWith('display:0'))!;
  assert.ok(new Set(row.match(/[▁▂▃▄▅▆▇█]/g)).size > 2, `the sparkline varies: ${row}`);
});

test('LiveApp: polls no faster than refreshMs, sizes the display to its area, skips it when hidden', async () => {
  const calls: number[] = [];
  const sizes: [number, number][] = [];
  let t = 0;
  const getSnapshot = () => {
    calls.push(performance.now());
    t += 1000;
    return fakeSnapshot(t, t);
  };
  const renderDisplay = (c: number, r: number) => {
    sizes.push([c, r]);
    return displayText(c, r);
  };
  const { lastFrame, stdin } = render(
    <LiveApp getSnapshot={getSnapshot} refreshMs={1} renderDisplay={renderDisplay} onQuit={noop} size={{ cols: 100, rows: 30 }} />,
  );
  await until('six polls', () => calls.length >= 6);
  // refreshMs 1 is raised to MIN_REFRESH_MS. One gap can come out a few ms short (a timer that
  // ran late is rescheduled from the loop's earlier clock), so: no gap near 1 ms, and on average
  // the polls are MIN_REFRESH_MS apart.
  const gaps = calls.slice(2).map((c, i) => c - calls[i + 1]!);
  for (const g of gaps) assert.ok(g >= MIN_REFRESH_MS / 2, `polls ${g} ms apart`);
  const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
  assert.ok(mean >= MIN_REFRESH_MS - 2, `polls ${mean} ms apart on average: ${gaps.join(', ')}`);
  assert.deepEqual(sizes.at(-1), [100, 28 - 11], 'rendered for the area the layout gives');
  await frameWhere(lastFrame, 'the display', (s) => s.startsWith('#'));
  await frameWhere(lastFrame, 'rates', (s) => /display:0\s+ready\s+\S+ \S+\s+\S+ \S+\s+[1-9][\d.]* (B|KiB|MiB)\/s/.test(s));

  await inputReady(stdin);
  stdin.write('d');
  await frameWhere(lastFrame, 'display hidden', (s) => !s.includes('#'));
  const before = sizes.length;
  const polls = calls.length;
  await until('two more polls', () => calls.length >= polls + 2);
  assert.ok(sizes.length <= before + 1, 'no display rendering while it is hidden');
});

test('LiveApp: survives a failing getSnapshot or renderDisplay', async () => {
  let n = 0;
  const { lastFrame } = render(
    <LiveApp
      getSnapshot={() => {
        if (++n % 2 === 0) throw new Error('boom');
        return fakeSnapshot(n * 1000, n * 1000);
      }}
      refreshMs={MIN_REFRESH_MS}
      renderDisplay={() => {
        throw new Error('bad frame');
      }}
      onQuit={noop}
      size={{ cols: 100, rows: 30 }}
    />,
  );
  await until('several polls', () => n >= 5);
  const f = await frameWhere(lastFrame, 'a frame', (s) => s.includes('main:0'));
  assert.match(f, /waiting for the display/);
});

class FakeOut extends EventEmitter {
  columns = 100;
  rows = 30;
  isTTY = true;
  chunks: string[] = [];
  write(s: unknown, ...rest: unknown[]): boolean {
    this.chunks.push(String(s));
    const cb = rest.find((x) => typeof x === 'function') as (() => void) | undefined;
    cb?.();
    return true;
  }
  get text() {
    return this.chunks.join('');
  }
}

class FakeIn extends EventEmitter {
  isTTY = true;
  isRaw = false;
  raw: boolean[] = [];
  private data: string | null = null;
  write(d: string) {
    this.data = d;
    this.emit('readable');
  }
  read() {
    const d = this.data;
    this.data = null;
    return d;
  }
  setRawMode(v: boolean) {
    this.isRaw = v;
    this.raw.push(v);
    return this;
  }
  setEncoding() {}
  ref() {}
  unref() {}
  resume() {}
  pause() {}
}

const streams = () => {
  const out = new FakeOut();
  const inp = new FakeIn();
  return { out, inp, io: { stdout: out as unknown as NodeJS.WriteStream, stdin: inp as unknown as NodeJS.ReadStream } };
};

test('startTui: q restores the terminal, then calls onQuit; done resolves', async () => {
  const { out, inp, io } = streams();
  const exitListeners = process.listenerCount('exit');
  let restoredAtQuit: boolean | null = null;
  const tui = startTui({
    ...io,
    debug: true,
    getSnapshot: () => snap,
    onQuit: () => {
      restoredAtQuit = out.text.endsWith(SHOW_CURSOR) && out.text.includes(LEAVE_ALT_SCREEN) && !inp.isRaw;
    },
  });
  assert.ok(out.chunks[0]!.startsWith(ENTER_ALT_SCREEN), 'alternate screen on a TTY');
  await until('a frame', () => out.text.includes('channel'));
  await until('raw mode', () => inp.isRaw);
  inp.write('q');
  await tui.done;
  assert.equal(restoredAtQuit, true, 'alternate screen left, cursor shown and raw mode off before onQuit');
  assert.equal(inp.raw.at(-1), false);
  assert.equal(process.listenerCount('exit'), exitListeners, 'no exit hook left behind');
  const n = out.chunks.length;
  tui.stop(); // idempotent
  assert.equal(out.chunks.length, n);
});

test('startTui: stop() from the caller; no alternate screen off a TTY', async () => {
  const { out, inp, io } = streams();
  out.isTTY = false;
  let quits = 0;
  const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  const before = timers();
  const tui = startTui({ ...io, debug: true, getSnapshot: () => snap, refreshMs: MIN_REFRESH_MS, onQuit: () => quits++ });
  await until('a frame', () => out.text.includes('main:0'));
  await until('raw mode', () => inp.isRaw);
  assert.ok(timers() > before, 'the poll timer runs');
  tui.stop();
  await tui.done;
  assert.equal(quits, 0, 'stop() is the caller leaving: no onQuit');
  assert.ok(!out.text.includes(ENTER_ALT_SCREEN) && !out.text.includes(LEAVE_ALT_SCREEN));
  assert.equal(inp.isRaw, false);
  // Nothing keeps polling (or the process alive) once the view is gone.
  await until('the poll timer to be gone', () => timers() <= before);
});

test('startTui: a sixel display is drawn over its reserved area after each frame, never through Ink', async () => {
  const { out, io } = streams();
  const sixel = '\x1bPq#0;2;0;100;0#0!30~\x1b\\';
  let frames = 0;
  const tui = startTui({
    ...io,
    debug: true,
    getSnapshot: () => fakeSnapshot(++frames * 1000, frames * 1000),
    refreshMs: MIN_REFRESH_MS,
    renderDisplay: () => sixel,
    onQuit: noop,
  });
  const placed = placeSixel(sixel, 0, 0);
  assert.equal(placed, `\x1b7\x1b[1;1H${sixel}\x1b8`);
  await until('the image', () => out.chunks.some((c) => c.includes(placed)));
  await until('two frames carrying it', () => out.chunks.filter((c) => c.includes('channel') && c.endsWith(placed)).length >= 2);
  for (const c of out.chunks) if (c.includes('\x1bP')) assert.ok(c.endsWith(placed), 'only ever whole, at the area, after a frame');
  tui.stop();
  await tui.done;
  const after = out.text.lastIndexOf(placed);
  assert.ok(out.text.indexOf(LEAVE_ALT_SCREEN) > after, 'no image after leaving');
});

test('sixel overlay: rides on frame writes, flushes alone when Ink writes nothing', async () => {
  const out = new FakeOut();
  const o = createSixelOverlay(out as unknown as NodeJS.WriteStream);
  assert.equal(o.stream.columns, 100, 'the proxy reads through');
  let resized = 0;
  o.stream.on('resize', () => resized++);
  out.emit('resize');
  assert.equal(resized, 1, 'listeners go to the real stream');
  o.stream.write('frame 1\n');
  assert.deepEqual(out.chunks, ['frame 1\n']);
  o.set('\x1bPqA\x1b\\', { x: 3, y: 2 });
  o.stream.write('frame 2\n');
  assert.equal(out.chunks.at(-1), 'frame 2\n\x1b7\x1b[3;4H\x1bPqA\x1b\\\x1b8', 'appended to the frame');
  o.stream.write('\x1b[?2026l');
  assert.equal(out.chunks.at(-1), '\x1b[?2026l', 'control writes pass untouched');
  const n = out.chunks.length;
  await new Promise((r) => setImmediate(r));
  assert.equal(out.chunks.length, n, 'already drawn with the frame: no second copy');
  o.set('\x1bPqB\x1b\\', { x: 0, y: 0 });
  await until('a lone flush', () => out.chunks.length === n + 1);
  assert.equal(out.chunks.at(-1), '\x1b7\x1b[1;1H\x1bPqB\x1b\\\x1b8');
  o.set(null);
  o.stream.write('frame 3\n');
  assert.equal(out.chunks.at(-1), 'frame 3\n');
  assert.equal(o.sequence(), '');
});
