// Every server compression mode on a real Xspice desktop (text, a photo, a logo) with motion
// while we are connected: spicectl's final screenshot equals the X framebuffer exactly
// (lossless modes) or reaches 30 dB PSNR (JPEG).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startXspice, xImport, xEnv } from './harness/index.js';
import { spicectl } from './spicectl.js';
import { decodePng } from '../../src/render/outputs/png.js';

const tmp = mkdtempSync(join(tmpdir(), 'spicectl-codecs-'));

function psnr(a: string, b: string): { differing: number; psnr: number } {
  const pa = decodePng(readFileSync(a));
  const pb = decodePng(readFileSync(b));
  assert.equal(pa.width, pb.width);
  assert.equal(pa.height, pb.height);
  let se = 0;
  let differing = 0;
  for (let i = 0; i < pa.rgba.length; i += 4) {
    let d = false;
    for (let c = 0; c < 3; c++) {
      const e = pa.rgba[i + c]! - pb.rgba[i + c]!;
      se += e * e;
      if (e) d = true;
    }
    if (d) differing++;
  }
  const mse = se / (pa.width * pa.height * 3);
  return { differing, psnr: mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse) };
}

/**
 * Motion while we are connected: a second photo and an xlogo appear over the text and the
 * first photo, move, and go away again, so the server sends fresh images of every kind and the
 * exposed windows redraw; the screen then returns to its static content.
 */
function motion(display: string, dir: string): Promise<void> {
  const script = `convert -seed 7 -size 300x200 plasma:fractal ${dir}/p2.png
    display -geometry +200+150 ${dir}/p2.png & d=$!
    xlogo -geometry 150x150+300+300 & l=$!
    sleep 0.6
    for i in $(seq 1 8); do xdotool search --class xlogo windowmove $((300 + i * 25)) $((300 + i * 12)) >/dev/null 2>&1; sleep 0.05; done
    kill $d $l; wait 2>/dev/null; true`;
  return new Promise((resolve) => spawn('sh', ['-c', script], { env: xEnv(display), stdio: 'ignore' }).on('close', () => resolve()));
}

const modes: { name: string; server: string[]; client: string; expect: string[]; lossy?: boolean }[] = [
  { name: 'auto_glz (server default)', server: ['--image-compression', 'auto_glz'], client: 'server', expect: ['glz_rgb', 'quic'] },
  { name: 'auto_lz', server: ['--image-compression', 'auto_lz'], client: 'server', expect: ['lz_rgb', 'quic'] },
  { name: 'quic', server: ['--image-compression', 'quic'], client: 'server', expect: ['quic'] },
  { name: 'glz', server: ['--image-compression', 'glz'], client: 'server', expect: ['glz_rgb'] },
  { name: 'lz', server: ['--image-compression', 'lz'], client: 'server', expect: ['lz_rgb'] },
  { name: 'off', server: ['--image-compression', 'off'], client: 'server', expect: ['bitmap'] },
  { name: 'client prefers LZ4', server: [], client: 'lz4', expect: ['lz4'] },
  { name: 'glz + zlib always', server: ['--image-compression', 'glz', '--zlib-glz-wan-compression', 'always'], client: 'server', expect: ['zlib_glz_rgb'] },
  { name: 'jpeg always', server: ['--image-compression', 'auto_glz', '--jpeg-wan-compression', 'always'], client: 'server', expect: ['jpeg_alpha'], lossy: true },
];

describe('display codecs against Xspice, one server per mode', () => {
  for (const m of modes) {
    test(m.name, async () => {
      const x = await startXspice({ content: 'static', extraArgs: m.server });
      try {
        const shot = join(tmp, `${m.name.replace(/\W+/g, '_')}.png`);
        const ref = join(tmp, `${m.name.replace(/\W+/g, '_')}-x.png`);
        const run = spicectl(['connect', `spice://127.0.0.1:${x.port}`, '--preferred-compression', m.client, '--screenshot', shot, '--settle', '1500', '--timeout', '60', '--json']);
        await new Promise((r) => setTimeout(r, 300));
        await motion(x.display, tmp);
        const r = await run;
        assert.equal(r.code, 0, r.stderr);
        const j = JSON.parse(r.stdout);
        for (const codec of m.expect) assert.ok(j.display.imageCodecs[codec] > 0, `${codec} seen: ${JSON.stringify(j.display.imageCodecs)}`);
        assert.deepEqual(j.display.unhandled, {}, 'nothing skipped');
        await xImport(x.display, ref);
        const q = psnr(shot, ref);
        if (m.lossy) assert.ok(q.psnr >= 30, `PSNR ${q.psnr.toFixed(1)} dB`);
        else assert.equal(q.differing, 0, `${q.differing} pixels differ (PSNR ${q.psnr.toFixed(1)} dB)`);
      } finally {
        await x.stop();
      }
    });
  }
});
