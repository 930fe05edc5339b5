// WAV (RIFF/WAVE) read and write. Reading is pure (Buffer in, format + sample bytes out) and
// checks every chunk length; writing streams to a file and patches the sizes on close.
import { closeSync, openSync, writeSync } from 'node:fs';
import { SpiceError } from '../util/errors.js';

export interface WavFormat {
  /** 'pcm' = integer samples (8-bit unsigned, 16/24/32-bit signed), 'float' = IEEE float 32/64 */
  encoding: 'pcm' | 'float';
  channels: number;
  sampleRate: number;
  bitsPerSample: number;
}

export interface Wav {
  format: WavFormat;
  /** the sample bytes (a view into the input) */
  data: Buffer;
  frames: number;
}

const WAVE_FORMAT_PCM = 1;
const WAVE_FORMAT_IEEE_FLOAT = 3;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;
const FORMAT_NAMES: Record<number, string> = { 2: 'MS ADPCM', 6: 'A-law', 7: 'mu-law', 0x11: 'IMA ADPCM', 0x55: 'MP3' };

const bad = (what: string, msg: string) => new SpiceError('input', `${what}: ${msg}`);

/** Parses a WAV file's bytes. `what` names it in errors (usually the path). */
export function parseWav(buf: Buffer, what = 'WAV file'): Wav {
  if (buf.length < 12 || buf.toString('latin1', 0, 4) !== 'RIFF' || buf.toString('latin1', 8, 12) !== 'WAVE') {
    throw bad(what, 'not a WAV file (no RIFF/WAVE header)');
  }
  let pos = 12;
  let format: WavFormat | null = null;
  let data: Buffer | null = null;
  while (pos + 8 <= buf.length) {
    const id = buf.toString('latin1', pos, pos + 4);
    let size = buf.readUInt32LE(pos + 4);
    const body = pos + 8;
    if (id === 'data' && (size === 0xffffffff || body + size > buf.length)) {
      // Streaming writers leave the size unknown or too big: take what is there.
      size = buf.length - body;
    }
    if (body + size > buf.length) throw bad(what, `the "${id}" chunk declares ${size} bytes, only ${buf.length - body} are left`);
    if (id === 'fmt ') format = parseFmt(buf.subarray(body, body + size), what);
    else if (id === 'data') {
      data = buf.subarray(body, body + size);
      if (format) break;
    }
    pos = body + size + (size & 1);
  }
  if (!format) throw bad(what, 'no "fmt " chunk');
  if (!data) throw bad(what, 'no "data" chunk');
  const frameBytes = (format.bitsPerSample / 8) * format.channels;
  const frames = Math.floor(data.length / frameBytes);
  return { format, data: data.subarray(0, frames * frameBytes), frames };
}

function parseFmt(b: Buffer, what: string): WavFormat {
  if (b.length < 16) throw bad(what, `"fmt " chunk of ${b.length} bytes (at least 16 expected)`);
  let tag = b.readUInt16LE(0);
  const channels = b.readUInt16LE(2);
  const sampleRate = b.readUInt32LE(4);
  const bitsPerSample = b.readUInt16LE(14);
  if (tag === WAVE_FORMAT_EXTENSIBLE) {
    if (b.length < 40) throw bad(what, 'WAVE_FORMAT_EXTENSIBLE "fmt " chunk is too short');
    tag = b.readUInt16LE(24); // first two bytes of the sub-format GUID are the format tag
  }
  if (tag !== WAVE_FORMAT_PCM && tag !== WAVE_FORMAT_IEEE_FLOAT) {
    throw bad(what, `${FORMAT_NAMES[tag] ?? `format ${tag}`} audio is not supported: convert it to PCM (e.g. sox IN -e signed -b 16 OUT.wav)`);
  }
  if (channels < 1) throw bad(what, 'no channels');
  if (sampleRate < 1000 || sampleRate > 384_000) throw bad(what, `sample rate ${sampleRate} Hz is out of range`);
  const encoding = tag === WAVE_FORMAT_PCM ? 'pcm' : 'float';
  const ok = encoding === 'pcm' ? [8, 16, 24, 32].includes(bitsPerSample) : [32, 64].includes(bitsPerSample);
  if (!ok) throw bad(what, `${bitsPerSample}-bit ${encoding === 'pcm' ? 'integer' : 'float'} samples are not supported`);
  return { encoding, channels, sampleRate, bitsPerSample };
}

/** The 44-byte canonical header of a PCM/float WAV with dataBytes of samples. */
export function wavHeader(f: WavFormat, dataBytes: number): Buffer {
  const h = Buffer.alloc(44);
  const blockAlign = (f.bitsPerSample / 8) * f.channels;
  h.write('RIFF', 0, 'latin1');
  h.writeUInt32LE(Math.min(0xffffffff, 36 + dataBytes), 4);
  h.write('WAVE', 8, 'latin1');
  h.write('fmt ', 12, 'latin1');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(f.encoding === 'pcm' ? WAVE_FORMAT_PCM : WAVE_FORMAT_IEEE_FLOAT, 20);
  h.writeUInt16LE(f.channels, 22);
  h.writeUInt32LE(f.sampleRate, 24);
  h.writeUInt32LE(f.sampleRate * blockAlign, 28);
  h.writeUInt16LE(blockAlign, 32);
  h.writeUInt16LE(f.bitsPerSample, 34);
  h.write('data', 36, 'latin1');
  h.writeUInt32LE(Math.min(0xffffffff, dataBytes), 40);
  return h;
}

export function encodeWav(f: WavFormat, data: Buffer): Buffer {
  return Buffer.concat([wavHeader(f, data.length), data]);
}

/** RIFF sizes are 32-bit: stop a little before 4 GiB. */
const MAX_DATA = 0xffffffff - 64;

/** Streams samples to a WAV file; the header's sizes are fixed up by close(). */
export class WavWriter {
  private fd: number;
  dataBytes = 0;
  /** bytes dropped because the file reached the WAV size limit */
  dropped = 0;
  private closed = false;

  constructor(readonly path: string, readonly format: WavFormat) {
    try {
      this.fd = openSync(path, 'w');
      writeSync(this.fd, wavHeader(format, 0));
    } catch (e) {
      throw new SpiceError('input', `cannot write ${path}: ${(e as Error).message}`);
    }
  }

  get frames(): number {
    return this.dataBytes / ((this.format.bitsPerSample / 8) * this.format.channels);
  }

  write(samples: Buffer): void {
    if (this.closed) return;
    const room = MAX_DATA - this.dataBytes;
    const take = samples.length <= room ? samples : samples.subarray(0, room - (room % ((this.format.bitsPerSample / 8) * this.format.channels)));
    this.dropped += samples.length - take.length;
    if (!take.length) return;
    writeSync(this.fd, take, 0, take.length, 44 + this.dataBytes);
    this.dataBytes += take.length;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    writeSync(this.fd, wavHeader(this.format, this.dataBytes), 0, 44, 0);
    closeSync(this.fd);
  }
}
