// Display fidelity against a real Xspice: X clients draw text (core and Xft fonts), lines and
// shapes (xclock, oclock, xlogo), shaped windows (xeyes), a tiled root background, a magnifier,
// scrolling (COPY_BITS), and our session's surface must equal the X server's own framebuffer
// pixel for pixel. Then MJPEG video streams (--streaming-video all), and the sixel renderer
// checked in a real terminal (xterm -ti vt340 under Xvfb).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startXspice, xImport, xEnv, waitScreenStable, waitWindow, run, type XspiceServer } from './harness/index.js';
import { spawnGroup, type Spawned } from './harness/proc.js';
import { pngDiff } from './spicectl.js';
import { Session } from '../../src/session/session.js';
import { parseSpiceUri } from '../../src/session/uri.js';
import type { DisplayChannel } from '../../src/session/channels/display.js';
import { writeSurfacePng } from '../../src/render/outputs/screenshot.js';
import { decodePng } from '../../src/render/outputs/png.js';
import { SIXEL_PALETTE, quantizeImage, renderSixel, fitSize, resampleRgba } from '../../src/render/outputs/sixel.js';

const tmp = mkdtempSync(join(tmpdir(), 'spicectl-display-'));

async function connect(x: XspiceServer): Promise<Session> {
  const session = new Session({ endpoint: parseSpiceUri(`spice://127.0.0.1:${x.port}`) });
  await session.connect();
  await session.waitFor(() => !!session.display?.marked);
  return session;
}

/** Resolves once our display has had no draw for quietMs. */
async function displayIdle(d: DisplayChannel, quietMs = 400, timeoutMs = 20_000): Promise<void> {
  const t0 = performance.now();
  let seen = d.draws;
  let since = performance.now();
  while (performance.now() - since < quietMs) {
    if (performance.now() - t0 > timeoutMs) throw new Error('the display never became idle');
    await new Promise((r) => setTimeout(r, 50));
    if (d.draws !== seen) { seen = d.draws; since = performance.now(); }
  }
}

/** Settles both sides and compares; retries a few times because X clients may still redraw. */
async function compareWithX(x: XspiceServer, session: Session, name: string): Promise<{ differing: number; ours: string; ref: string }> {
  const ours = join(tmp, `${name}-ours.png`);
  const ref = join(tmp, `${name}-xserver.png`);
  let differing = -1;
  for (let attempt = 0; attempt < 4 && differing !== 0; attempt++) {
    await waitScreenStable(x.display, 20_000, 300);
    await displayIdle(session.display!);
    writeSurfacePng(session.display!.primary!, ours);
    await xImport(x.display, ref);
    differing = pngDiff(ours, ref).differing;
  }
  return { differing, ours, ref };
}

describe('display operations against Xspice', () => {
  let x: XspiceServer;
  let session: Session;
  const apps: Spawned[] = [];
  let desktopPng = '';
  const app = (cmd: string, args: string[]) => apps.push(spawnGroup(cmd, args, { env: xEnv(x.display), logFile: join(x.stateDir, 'apps.log') }));

  before(async () => {
    x = await startXspice({ content: 'none' });
    session = await connect(x);
  });
  after(async () => {
    session?.close();
    await Promise.all(apps.map((a) => a.stop()));
    await x?.stop();
  });

  test('text, lines, shapes, shaped windows, root pattern and scrolling: pixel-exact', async (t) => {
    // ImageMagick sets a root background pixmap (X tiles it) and stays around.
    app('display', ['-window', 'root', 'pattern:checkerboard']);
    app('xterm', ['-T', 'e2e-core-font', '-fn', 'fixed', '-geometry', '60x14+10+10', '-bg', 'navy', '-fg', 'yellow', '-e', 'sh', '-c',
      'printf "\\033[?25l"; for i in $(seq 1 120); do echo "core font line $i: the quick brown fox"; done; exec sleep infinity']);
    app('xterm', ['-T', 'e2e-xft-font', '-fa', 'DejaVu Sans Mono', '-fs', '13', '-geometry', '44x10+420+10', '-bg', 'white', '-fg', 'black', '-e', 'sh', '-c',
      'printf "\\033[?25l\\033[1mBold\\033[0m \\033[4munderline\\033[0m \\033[31mred\\033[32m green\\033[0m\\n"; ls -la /usr/bin | head -8; exec sleep infinity']);
    app('xclock', ['-analog', '-update', '3600', '-title', 'e2e-xclock', '-geometry', '150x150+10+330']);
    app('oclock', ['-title', 'e2e-oclock', '-geometry', '130x130+170+330']);
    app('xeyes', ['-title', 'e2e-xeyes', '-geometry', '160x110+310+330']);
    app('xlogo', ['-title', 'e2e-xlogo', '-render', '-geometry', '120x120+480+330']);
    app('xlogo', ['-title', 'e2e-xlogo-core', '-geometry', '120x120+610+330']);
    app('xcalc', ['-geometry', '+10+500']);
    for (const title of ['e2e-core-font', 'e2e-xft-font', 'e2e-xclock', 'e2e-oclock', 'e2e-xeyes', 'e2e-xlogo', 'e2e-xlogo-core']) {
      await waitWindow(x.display, title, 15_000);
    }
    await waitScreenStable(x.display, 20_000, 300);
    app('xmag', ['-source', '60x60+400+330', '-mag', '3', '-geometry', '+760+330']);
    const r = await compareWithX(x, session, 'desktop');
    desktopPng = r.ours;
    const d = session.display!;
    t.diagnostic(`Xspice sent: ${JSON.stringify(d.ops)}; images: ${JSON.stringify(d.imageTypes)}; surfaces: ${[...d.surfaces.values()].map((s) => `${s.id}:${s.width}x${s.height}/${s.format}`).join(' ')}; not exact: ${JSON.stringify(d.unsupported)}`);
    assert.equal(r.differing, 0, `${r.differing} pixels differ (${r.ours} vs ${r.ref})`);
    assert.deepEqual(d.unsupported, {});
    for (const op of ['drawFill', 'drawCopy', 'copyBits']) assert.ok((d.ops[op] ?? 0) > 0, `Xspice sent ${op}`);
    assert.equal(d.monitors.length, 1);
    assert.equal(d.monitors[0]!.width, 1024);
  });

  test('sixel of the desktop shown by xterm -ti vt340 (Xvfb) matches the quantised screenshot', async (t) => {
    assert.ok(desktopPng, 'the desktop test ran first');
    const png = decodePng(readFileSync(desktopPng));
    const box = { cols: 40, rows: 12, cellWidth: 10, cellHeight: 20 };
    const six = renderSixel({ width: png.width, height: png.height, data: png.rgba }, box);
    const sixFile = join(tmp, 'desktop.six');
    writeFileSync(sixFile, six);
    // what the terminal should show: the resampled image in palette colours
    const { width, height } = fitSize(png.width, png.height, box.cols * box.cellWidth, box.rows * box.cellHeight);
    const scaled = resampleRgba({ width: png.width, height: png.height, data: png.rgba }, width, height);
    const idx = quantizeImage(scaled);

    const xvfb: ChildProcess = spawn('Xvfb', ['-displayfd', '1', '-screen', '0', '800x600x24', '-nolisten', 'tcp'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let term: ChildProcess | undefined;
    try {
      const display = await new Promise<string>((resolve, reject) => {
        let out = '';
        xvfb.stdout!.on('data', (b) => { out += b; if (out.includes('\n')) resolve(`:${out.trim()}`); });
        xvfb.once('exit', () => reject(new Error('Xvfb exited')));
        setTimeout(() => reject(new Error('Xvfb did not start')), 10_000);
      });
      term = spawn('xterm', ['-ti', 'vt340', '-xrm', 'XTerm*numColorRegisters: 256', '-xrm', 'XTerm*internalBorder: 0',
        '-geometry', '90x30+0+0', '-bg', 'black', '-fg', 'white', '-T', 'e2e-sixel', '-e', 'sh', '-c', 'cat "$1"; exec sleep infinity', 'sh', sixFile],
      { env: xEnv(display), stdio: 'ignore' });
      await waitWindow(display, 'e2e-sixel', 15_000);
      await waitScreenStable(display, 15_000, 300);
      const shot = join(tmp, 'xterm-sixel.png');
      await run('import', ['-display', display, '-window', 'root', '-strip', `PNG24:${shot}`], { env: xEnv(display), timeoutMs: 30_000 });
      const got = decodePng(readFileSync(shot));
      // find where the image landed (near the top-left), then compare pixel by pixel
      let best = { err: Infinity, ox: 0, oy: 0, exact: 0 };
      for (let oy = 0; oy <= 8; oy++) {
        for (let ox = 0; ox <= 8; ox++) {
          let err = 0, exact = 0;
          for (let y = 0; y < height; y += 3) {
            for (let x0 = 0; x0 < width; x0 += 3) {
              const [r, g, b] = SIXEL_PALETTE[idx[y * width + x0]!]!;
              const o = ((y + oy) * got.width + x0 + ox) * 4;
              const e = Math.abs(got.rgba[o]! - r) + Math.abs(got.rgba[o + 1]! - g) + Math.abs(got.rgba[o + 2]! - b);
              err += e;
              if (e === 0) exact++;
            }
          }
          if (err < best.err) best = { err, ox, oy, exact };
        }
      }
      const samples = Math.ceil(height / 3) * Math.ceil(width / 3);
      t.diagnostic(`sixel ${width}x${height} found at +${best.ox}+${best.oy}: mean error ${(best.err / samples).toFixed(2)}, exact ${(100 * best.exact / samples).toFixed(1)} %`);
      assert.ok(best.err / samples < 6, `mean error ${best.err / samples} per pixel`);
      assert.ok(best.exact / samples > 0.9, `only ${best.exact} of ${samples} sampled pixels exact`);
    } finally {
      term?.kill('SIGKILL');
      xvfb.kill('SIGTERM');
    }
  });
});

describe('MJPEG video streams from Xspice', () => {
  let x: XspiceServer;
  let session: Session;
  const apps: Spawned[] = [];
  after(async () => {
    session?.close();
    await Promise.all(apps.map((a) => a.stop()));
    await x?.stop();
  });

  test('frames are decoded, oriented and placed like the source animation; reports flow', async (t) => {
    x = await startXspice({ content: 'none', extraArgs: ['--streaming-video', 'all'] });
    session = await connect(x);
    const frames: string[] = [];
    for (let i = 0; i < 10; i++) {
      const f = join(tmp, `frame${i}.png`);
      await run('convert', ['-seed', String(100 + i), '-size', '320x240', 'plasma:fractal', `PNG24:${f}`], { timeoutMs: 30_000 });
      frames.push(f);
    }
    const sources = frames.map((f) => decodePng(readFileSync(f)));
    const d = session.display!;
    const snaps: { rgba: Buffer; w: number; h: number }[] = [];
    let lastFrames = 0;
    d.on('draw', () => {
      if (d.streamStats.frames === lastFrames) return;
      lastFrames = d.streamStats.frames;
      const st = [...d.streams.streams.values()][0];
      if (!st || snaps.length >= 5 || lastFrames < 10 || lastFrames % 7 !== 0) return;
      const s = d.primary!;
      const w = st.dest.right - st.dest.left, h = st.dest.bottom - st.dest.top;
      const rgba = Buffer.alloc(w * h * 4);
      for (let y = 0; y < h; y++) {
        for (let x0 = 0; x0 < w; x0++) {
          const o = ((st.dest.top + y) * s.width + st.dest.left + x0) * 4;
          rgba.set([s.data[o + 2]!, s.data[o + 1]!, s.data[o]!, 255], (y * w + x0) * 4);
        }
      }
      snaps.push({ rgba, w, h });
    });
    apps.push(spawnGroup('animate', ['-delay', '4', '-geometry', '+100+100', ...frames], { env: xEnv(x.display), logFile: join(x.stateDir, 'apps.log') }));
    const t0 = performance.now();
    while (snaps.length < 5 && performance.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 100));
    t.diagnostic(`streams: ${JSON.stringify(d.streamStats)}; ops: ${JSON.stringify(d.ops)}; not exact: ${JSON.stringify(d.unsupported)}`);
    assert.ok(d.streamStats.created >= 1, 'the server started a stream');
    assert.ok(snaps.length >= 5, `${d.streamStats.frames} stream frames`);
    assert.equal(d.streamStats.drops, 0, 'every MJPEG frame decoded');
    assert.ok(d.streamStats.reports >= 1, 'stream reports were sent');
    for (const snap of snaps) {
      assert.equal(snap.w, 320);
      assert.equal(snap.h, 240);
      // the closest source frame must be close (JPEG loss only); a flipped or shifted frame is not
      const errs = sources.map((src) => {
        let e = 0;
        for (let i = 0; i < snap.rgba.length; i += 4) e += Math.abs(snap.rgba[i]! - src.rgba[i]!) + Math.abs(snap.rgba[i + 1]! - src.rgba[i + 1]!) + Math.abs(snap.rgba[i + 2]! - src.rgba[i + 2]!);
        return e / (snap.w * snap.h * 3);
      });
      const best = Math.min(...errs);
      t.diagnostic(`stream frame: best mean error ${best.toFixed(2)} (others ${errs.filter((e) => e !== best).map((e) => e.toFixed(0)).join(' ')})`);
      assert.ok(best < 8, `stream frame differs from every source frame (best mean error ${best})`);
    }
  });
});
