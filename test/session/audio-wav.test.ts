// WAV read/write and the record-side sample conversion.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WavWriter, encodeWav, parseWav, wavHeader, type WavFormat } from '../../src/audio/wav.js';
import { WavConverter } from '../../src/audio/convert.js';
import { WavSource } from '../../src/audio/session-audio.js';
import { SpiceError } from '../../src/util/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'spicectl-wav-'));
const S16_STEREO_48K: WavFormat = { encoding: 'pcm', channels: 2, sampleRate: 48_000, bitsPerSample: 16 };

/** n frames of a sine (freq Hz) as interleaved S16LE. */
function sine(n: number, freq: number, rate: number, channels: number, amp = 0.5): Buffer {
  const b = Buffer.alloc(n * channels * 2);
  for (let i = 0; i < n; i++) {
    const v = Math.round(Math.sin((2 * Math.PI * freq * i) / rate) * amp * 32767);
    for (let c = 0; c < channels; c++) b.writeInt16LE(v, (i * channels + c) * 2);
  }
  return b;
}

/** Frequency estimate from rising zero crossings of channel 0. */
function freqOf(pcm: Buffer, channels: number, rate: number): number {
  let crossings = 0;
  let prev = 0;
  const n = pcm.length / (2 * channels);
  for (let i = 0; i < n; i++) {
    const v = pcm.readInt16LE(i * channels * 2);
    if (prev < 0 && v >= 0) crossings++;
    prev = v;
  }
  return (crossings * rate) / n;
}

describe('WAV files', () => {
  test('write then read: the same format and samples; sizes patched on close', () => {
    const path = join(dir, 'a.wav');
    const w = new WavWriter(path, S16_STEREO_48K);
    const pcm = sine(4800, 1000, 48_000, 2);
    w.write(pcm.subarray(0, 1000));
    w.write(pcm.subarray(1000));
    assert.equal(w.frames, 4800);
    w.close();
    const buf = readFileSync(path);
    assert.equal(buf.readUInt32LE(4), 36 + pcm.length);
    assert.equal(buf.readUInt32LE(40), pcm.length);
    const wav = parseWav(buf);
    assert.deepEqual(wav.format, S16_STEREO_48K);
    assert.equal(wav.frames, 4800);
    assert.deepEqual(wav.data, pcm);
    assert.deepEqual(wavHeader(S16_STEREO_48K, pcm.length), buf.subarray(0, 44));
  });

  test('an unwritable path is an input error at once', () => {
    assert.throws(() => new WavWriter(join(dir, 'no/such/dir/x.wav'), S16_STEREO_48K), (e: SpiceError) => e.code === 'input' && /cannot write/.test(e.message));
  });

  test('extra chunks, odd padding, a data size left at 0xffffffff (streamed), EXTENSIBLE fmt', () => {
    const pcm = sine(10, 440, 8000, 1);
    const fmt = Buffer.alloc(40);
    fmt.writeUInt16LE(0xfffe, 0);
    fmt.writeUInt16LE(1, 2);
    fmt.writeUInt32LE(8000, 4);
    fmt.writeUInt32LE(16000, 8);
    fmt.writeUInt16LE(2, 12);
    fmt.writeUInt16LE(16, 14);
    fmt.writeUInt16LE(22, 16);
    fmt.writeUInt16LE(1, 24); // sub-format GUID starts with the format tag (PCM)
    const chunk = (id: string, body: Buffer) => Buffer.concat([Buffer.from(id, 'latin1'), Buffer.from(Uint32Array.of(body.length).buffer), body, body.length & 1 ? Buffer.alloc(1) : Buffer.alloc(0)]);
    const list = chunk('LIST', Buffer.from('odd'));
    const data = Buffer.concat([Buffer.from('data', 'latin1'), Buffer.from([0xff, 0xff, 0xff, 0xff]), pcm]);
    const body = Buffer.concat([Buffer.from('WAVE', 'latin1'), list, chunk('fmt ', fmt), data]);
    const file = Buffer.concat([Buffer.from('RIFF', 'latin1'), Buffer.from(Uint32Array.of(body.length).buffer), body]);
    const wav = parseWav(file);
    assert.deepEqual(wav.format, { encoding: 'pcm', channels: 1, sampleRate: 8000, bitsPerSample: 16 });
    assert.deepEqual(wav.data, pcm);
  });

  test('bad files: clear input errors', () => {
    const bad = (b: Buffer, re: RegExp) => assert.throws(() => parseWav(b, 'x.wav'), (e: SpiceError) => e.code === 'input' && re.test(e.message));
    bad(Buffer.from('hello world, not a wav'), /x\.wav: not a WAV file/);
    const ok = encodeWav(S16_STEREO_48K, Buffer.alloc(8));
    const adpcm = Buffer.from(ok);
    adpcm.writeUInt16LE(2, 20);
    bad(adpcm, /MS ADPCM audio is not supported: convert it to PCM/);
    const bits12 = Buffer.from(ok);
    bits12.writeUInt16LE(12, 34);
    bad(bits12, /12-bit integer samples are not supported/);
    const truncated = Buffer.from(ok.subarray(0, 30));
    bad(truncated, /"fmt " chunk declares 16 bytes, only 10 are left/);
    const noData = encodeWav(S16_STEREO_48K, Buffer.alloc(0)).subarray(0, 36);
    noData.writeUInt32LE(28, 4);
    bad(noData, /no "data" chunk/);
  });
});

describe('conversion to the server format', () => {
  test('48 kHz stereo S16 in: the same bytes out', () => {
    const pcm = sine(960, 1000, 48_000, 2);
    const conv = new WavConverter(parseWav(encodeWav(S16_STEREO_48K, pcm)), { channels: 2, frequency: 48_000 });
    assert.deepEqual(Buffer.concat([conv.next(480)!, conv.next(480)!]), pcm);
    assert.equal(conv.next(480), null);
  });

  test('mono 44.1 kHz -> stereo 48 kHz: length and frequency kept, both channels equal', () => {
    const pcm = sine(44_100, 1000, 44_100, 1);
    const wav = parseWav(encodeWav({ encoding: 'pcm', channels: 1, sampleRate: 44_100, bitsPerSample: 16 }, pcm));
    const conv = new WavConverter(wav, { channels: 2, frequency: 48_000 });
    const parts: Buffer[] = [];
    for (let p; (p = conv.next(480)); ) parts.push(p);
    const out = Buffer.concat(parts);
    assert.equal(out.length / 4, 48_000);
    assert.ok(Math.abs(freqOf(out, 2, 48_000) - 1000) <= 2, `frequency ${freqOf(out, 2, 48_000)}`);
    for (let i = 0; i < out.length; i += 4) assert.equal(out.readInt16LE(i), out.readInt16LE(i + 2));
  });

  test('8-bit, 24-bit, 32-bit and float samples scale to S16', () => {
    const cases: [WavFormat, Buffer, number][] = [
      [{ encoding: 'pcm', channels: 1, sampleRate: 48_000, bitsPerSample: 8 }, Buffer.from([192]), 16384],
      [{ encoding: 'pcm', channels: 1, sampleRate: 48_000, bitsPerSample: 24 }, Buffer.from([0, 0, 0xc0]), -16384],
      [{ encoding: 'pcm', channels: 1, sampleRate: 48_000, bitsPerSample: 32 }, Buffer.from(Int32Array.of(1 << 30).buffer), 16384],
      [{ encoding: 'float', channels: 1, sampleRate: 48_000, bitsPerSample: 32 }, Buffer.from(Float32Array.of(-0.5).buffer), -16384],
      [{ encoding: 'float', channels: 1, sampleRate: 48_000, bitsPerSample: 64 }, Buffer.from(Float64Array.of(2).buffer), 32767],
    ];
    for (const [f, data, want] of cases) {
      const out = new WavConverter(parseWav(encodeWav(f, data)), { channels: 1, frequency: 48_000 }).next(1)!;
      assert.equal(out.readInt16LE(0), want, `${f.encoding} ${f.bitsPerSample}`);
    }
  });

  test('stereo -> mono averages; more than 2 channels is refused clearly', () => {
    const st = Buffer.alloc(4);
    st.writeInt16LE(1000, 0);
    st.writeInt16LE(3000, 2);
    assert.equal(new WavConverter(parseWav(encodeWav(S16_STEREO_48K, st)), { channels: 1, frequency: 48_000 }).next(1)!.readInt16LE(0), 2000);
    const six = parseWav(encodeWav({ ...S16_STEREO_48K, channels: 6 }, Buffer.alloc(12)));
    assert.throws(() => new WavConverter(six, { channels: 2, frequency: 48_000 }, 'surround.wav'), /surround\.wav: 6 channels; only mono or stereo input is supported/);
  });

  test('WavSource: loads, refuses early, follows a format change from the same point in time', () => {
    const path = join(dir, 'src.wav');
    const w = new WavWriter(path, S16_STEREO_48K);
    w.write(sine(48_000, 500, 48_000, 2));
    w.close();
    const src = WavSource.load(path);
    assert.equal(src.seconds, 1);
    src.configure({ channels: 2, format: 1, frequency: 48_000 });
    assert.equal(src.read(24_000)!.length, 24_000 * 4);
    src.configure({ channels: 2, format: 1, frequency: 24_000 });
    assert.equal(src.position, 0.5);
    assert.equal(src.read(100_000)!.length, 12_000 * 4);
    assert.equal(src.read(10), null);
    assert.throws(() => WavSource.load(join(dir, 'missing.wav')), /cannot read .*missing\.wav: no such file/);
  });
});
