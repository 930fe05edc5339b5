// The live view with a sixel display in a real sixel terminal: xterm as a VT340 (`xterm -ti
// vt340`) on a virtual X server (Xvfb), running `spicectl connect --tui --display sixel` against a
// real Xspice ('basic' desktop). A screenshot of the X screen must show the guest's desktop (the
// colours of regions of the picture match the same regions of the PNG that the s key writes)
// and, beside it, the channel table as text; q gives the terminal back.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, startXspice, waitFor, xdotool, xEnv, xImport, type XspiceServer } from './harness/index.js';
import { makeStateDir, spawnGroup, type Spawned } from './harness/proc.js';
import { BIN } from './spicectl.js';
import { decodePng } from '../../src/render/outputs/png.js';

const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const missing = ['Xvfb', 'xterm', 'import', 'xdotool'].filter((c) => !have(c));

interface Img { width: number; height: number; rgba: Buffer }
const load = (f: string): Img => decodePng(readFileSync(f));

/** Mean RGB of a rectangle [x0, x1) x [y0, y1). */
function mean(img: Img, x0: number, y0: number, x1: number, y1: number): [number, number, number] {
  let r = 0, g = 0, b = 0, n = 0;
  for (let y = Math.floor(y0); y < Math.floor(y1); y++) {
    for (let x = Math.floor(x0); x < Math.floor(x1); x++) {
      const o = (y * img.width + x) * 4;
      r += img.rgba[o]!; g += img.rgba[o + 1]!; b += img.rgba[o + 2]!; n++;
    }
  }
  return [r / n, g / n, b / n];
}

/** Bounding box of the pixels that are not the xterm's white background, within a rectangle. */
function bbox(img: Img, x0: number, y0: number, x1: number, y1: number) {
  let bx0 = Infinity, by0 = Infinity, bx1 = -1, by1 = -1;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) {
      const o = (y * img.width + x) * 4;
      if (img.rgba[o]! > 240 && img.rgba[o + 1]! > 240 && img.rgba[o + 2]! > 240) continue;
      if (x < bx0) bx0 = x;
      if (x > bx1) bx1 = x;
      if (y < by0) by0 = y;
      if (y > by1) by1 = y;
    }
  }
  return { x0: bx0, y0: by0, x1: bx1 + 1, y1: by1 + 1 };
}

function freeDisplay(): number {
  for (let n = 600; n < 700; n++) if (!existsSync(`/tmp/.X${n}-lock`) && !existsSync(`/tmp/.X11-unix/X${n}`)) return n;
  throw new Error('no free X display');
}

describe('connect --tui --display sixel in xterm -ti vt340', { skip: missing.length ? `missing ${missing.join(', ')}` : false }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'spicectl-tui-sixel-'));
  const shots = join(dir, 'shots');
  const rcFile = join(dir, 'rc');
  let x: XspiceServer;
  let xvfb: Spawned;
  let xterm: Spawned;
  let screenDisplay = '';

  before(async () => {
    x = await startXspice({ content: 'basic' });
    const n = freeDisplay();
    screenDisplay = `:${n}`;
    const logs = makeStateDir('xvfb');
    xvfb = spawnGroup('Xvfb', [screenDisplay, '-screen', '0', '1400x900x24', '-nolisten', 'tcp'], { logFile: join(logs, 'xvfb.log') });
    // The socket appears before the server answers: wait for an X client to get through.
    await waitFor(async () => existsSync(`/tmp/.X11-unix/X${n}`) && (await xdotool(screenDisplay, ['getdisplaygeometry']).catch(() => '')) === '1400 900', 15_000, `Xvfb ${screenDisplay}`, 100);
    writeFileSync(join(dir, 'run.sh'), [
      `cd '${repoRoot}'`,
      `mkdir -p '${shots}'`,
      `env -u CI node '${BIN}' connect spice://127.0.0.1:${x.port} --tui --display sixel --screenshot-dir '${shots}' 2>'${join(dir, 'stderr')}'`,
      `echo $? > '${rcFile}'`,
      'exec sleep 600',
    ].join('\n'));
    xterm = spawnGroup('xterm', ['-ti', 'vt340', '-geometry', '200x60+0+0', '-e', 'sh', join(dir, 'run.sh')], { env: xEnv(screenDisplay), logFile: join(logs, 'xterm.log') });
  });

  after(async () => {
    await xterm?.stop(1000);
    await xvfb?.stop(1000);
    await x?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the desktop as sixel beside the table text; colours match the PNG; q restores the terminal', async () => {
    const win = await waitFor(async () => (await xdotool(screenDisplay, ['search', '--class', 'xterm']).catch(() => '')).split('\n')[0], 15_000, 'the xterm window');
    const geo = await xdotool(screenDisplay, ['getwindowgeometry', win]);
    const [, wx, wy] = /Position: (\d+),(\d+)/.exec(geo)!.map(Number) as [number, number, number];
    const [, ww, wh] = /Geometry: (\d+)x(\d+)/.exec(geo)!.map(Number) as [number, number, number];
    const cellH = Math.floor(wh / 60);
    const shot = join(dir, 'screen.png');
    // The picture: the dark desktop on the xterm's white, in the left half; wait until the navy
    // xterm of the desktop is in it.
    let img!: Img;
    let box!: ReturnType<typeof bbox>;
    await waitFor(async () => {
      await xImport(screenDisplay, shot);
      img = load(shot);
      // (skipping the window border: the picture starts inside the internal border)
      box = bbox(img, wx + 2, wy + 2, wx + Math.floor(ww / 2), wy + 55 * cellH);
      if (box.x1 - box.x0 < 200 || box.y1 - box.y0 < 150) return false;
      const s = (box.x1 - box.x0) / 1024;
      const [r, g, b] = mean(img, box.x0 + 300 * s, box.y0 + 40 * s, box.x0 + 470 * s, box.y0 + 300 * s);
      return b > 90 && r < 80 && g < 80;
    }, 30_000, 'the sixel picture of the desktop', 500);
    const scale = (box.x1 - box.x0) / 1024;
    assert.ok(Math.abs((box.y1 - box.y0) / scale - 768) < 8, `aspect kept: ${JSON.stringify(box)}`);
    assert.ok(box.x0 - wx < 10 && box.y0 - wy < 10, 'at the top-left of the terminal');

    // s: the client's own PNG of the display, taken right now; regions of it vs the picture.
    await xdotool(screenDisplay, ['windowfocus', '--sync', win]);
    await xdotool(screenDisplay, ['key', 's']);
    const png = join(shots, await waitFor(() => readdirSync(shots).find((f) => f.endsWith('.png')), 10_000, 'the snapshot PNG'));
    const ref = load(png);
    assert.equal(ref.width, 1024);
    const regions: Record<string, [number, number, number, number]> = {
      'navy xterm background': [300, 40, 470, 300],
      'black root window': [60, 450, 500, 740],
      'white clock face': [640, 290, 760, 410],
    };
    for (const [what, [x0, y0, x1, y1]] of Object.entries(regions)) {
      const want = mean(ref, x0, y0, x1, y1);
      const got = mean(img, box.x0 + x0 * scale, box.y0 + y0 * scale, box.x0 + x1 * scale, box.y0 + y1 * scale);
      for (let c = 0; c < 3; c++) {
        assert.ok(Math.abs(got[c]! - want[c]!) < 45, `${what}: picture ${got.map(Math.round)} vs PNG ${want.map(Math.round)}`);
      }
    }

    // The table beside the picture is text: black glyphs on white, far from uniform.
    const tx0 = box.x1 + 20;
    let dark = 0, total = 0;
    const colours = new Set<number>();
    for (let y = wy; y < wy + 5 * cellH; y++) {
      for (let xx = tx0; xx < wx + ww - 4; xx++) {
        const o = (y * img.width + xx) * 4;
        const v = img.rgba[o]! + img.rgba[o + 1]! + img.rgba[o + 2]!;
        colours.add((img.rgba[o]! << 16) | (img.rgba[o + 1]! << 8) | img.rgba[o + 2]!);
        if (v < 300) dark++;
        total++;
      }
    }
    assert.ok(colours.size >= 2 && dark / total > 0.01 && dark / total < 0.6, `table text: ${dark}/${total} dark pixels, ${colours.size} colours`);

    // q: exit 0, the main screen back without the picture.
    await xdotool(screenDisplay, ['key', 'q']);
    await waitFor(() => existsSync(rcFile) && readFileSync(rcFile, 'utf8').trim() !== '', 15_000, 'spicectl to exit');
    assert.equal(readFileSync(rcFile, 'utf8').trim(), '0', readFileSync(join(dir, 'stderr'), 'utf8'));
    await xImport(screenDisplay, shot);
    const afterImg = load(shot);
    const [r, g, b] = mean(afterImg, box.x0 + 300 * scale, box.y0 + 40 * scale, box.x0 + 470 * scale, box.y0 + 300 * scale);
    assert.ok(r > 200 && g > 200 && b > 200, `the picture is gone: ${[r, g, b].map(Math.round)}`);
  });
});
