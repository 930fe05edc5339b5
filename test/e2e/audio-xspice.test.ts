// Playback end to end: Xspice reads audio from FIFOs in its SpicePlaybackFIFODir (set through
// XSPICE_PLAYBACK_FIFO_DIR) and plays it on the SPICE playback channel; spicectl writes it to a
// WAV file. A known tone (1 s of 1 kHz, 48 kHz stereo S16) must come out the same: sox measures
// its length and frequency, and the samples are compared byte for byte.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startXspice, type XspiceServer } from './harness/index.js';
import { parseWav } from '../../src/audio/wav.js';
import { spicectl } from './spicectl.js';

const tmp = mkdtempSync(join(tmpdir(), 'spicectl-audio-'));

try {
  execFileSync('sh', ['-c', 'command -v sox']);
} catch {
  throw new Error('sox is missing: install the Debian package sox (scripts/install-deps.sh)');
}

/** 1 s of a 1 kHz sine at half scale, 48 kHz stereo S16LE. */
function tone(): Buffer {
  const b = Buffer.alloc(48_000 * 4);
  for (let i = 0; i < 48_000; i++) {
    const v = Math.round(Math.sin((2 * Math.PI * 1000 * i) / 48_000) * 16000);
    b.writeInt16LE(v, i * 4);
    b.writeInt16LE(v, i * 4 + 2);
  }
  return b;
}

/** `sox FILE -n remix 1 stat` as numbers. */
function soxStat(file: string): Record<string, number> {
  // sox prints stat on stderr
  const out = execFileSync('sh', ['-c', 'sox "$1" -n remix 1 stat 2>&1', 'sh', file]).toString();
  const get = (k: string) => Number(new RegExp(`^${k}:\\s+(-?[\\d.]+)`, 'm').exec(out)?.[1]);
  return { length: get('Length \\(seconds\\)'), frequency: get('Rough\\s+frequency'), rms: get('RMS\\s+amplitude') };
}

describe('playback to a WAV file (Xspice audio FIFO)', () => {
  let x: XspiceServer;
  const fifoDir = mkdtempSync(join(tmpdir(), 'spicectl-fifo-'));
  before(async () => {
    x = await startXspice({ content: 'none', env: { XSPICE_PLAYBACK_FIFO_DIR: fifoDir } });
  });
  after(() => x?.stop());

  test('connect --audio-out: a 1 s 1 kHz tone arrives with its length, frequency and samples', async () => {
    const wav = join(tmp, 'out.wav');
    const pcm = tone();
    const run = spicectl(['connect', `spice://127.0.0.1:${x.port}`, '--audio-out', wav, '--duration', '6', '--json', '--no-tui', '--timeout', '30']);
    // Give the client time to open its playback channel, then play: a FIFO appears in the
    // directory, the driver opens it (inotify), and we write the tone into it.
    await new Promise((r) => setTimeout(r, 2500));
    const fifo = join(fifoDir, 'tone.fifo');
    execFileSync('mkfifo', [fifo]);
    const fh = await open(fifo, 'w');
    await fh.write(pcm);
    await fh.close();
    const r = await run;
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    const p = j.audio.playback;
    assert.equal(p.starts, 1);
    assert.equal(p.frames, 48_000);
    assert.deepEqual(p.format, { encoding: 'pcm', channels: 2, sampleRate: 48_000, bitsPerSample: 16 });
    assert.equal(j.channels.find((c: { type: string }) => c.type === 'playback').audio.mode, 'RAW');
    const s = soxStat(wav);
    assert.equal(s.length, 1);
    assert.ok(Math.abs(s.frequency - 1000) <= 10, `sox rough frequency ${s.frequency}`);
    assert.deepEqual(parseWav(readFileSync(wav)).data, pcm);
  });

  test('a server that plays nothing leaves a valid empty WAV', async () => {
    const wav = join(tmp, 'silent.wav');
    const r = await spicectl(['connect', `spice://127.0.0.1:${x.port}`, '--audio-out', wav, '--duration', '1', '--no-tui', '--timeout', '30']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(parseWav(readFileSync(wav)).frames, 0);
  });

  test('--audio-in with an unusable file is refused before connecting', async () => {
    const bad = join(tmp, 'bad.wav');
    writeFileSync(bad, 'not a wav');
    const r = await spicectl(['connect', `spice://127.0.0.1:${x.port}`, '--audio-in', bad, '--duration', '1', '--no-tui']);
    assert.equal(r.code, 9);
    assert.match(r.stderr, /bad\.wav: not a WAV file/);
  });
});
