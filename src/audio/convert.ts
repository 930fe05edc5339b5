// Sample conversion for the record channel: any PCM/float WAV with 1 or 2 channels, at any
// rate, to interleaved S16LE at the server's channel count and rate (linear interpolation).
import { SpiceError } from '../util/errors.js';
import type { Wav } from './wav.js';

export interface TargetFormat {
  channels: number;
  frequency: number;
}

type SampleReader = (buf: Buffer, offset: number) => number;

/** A reader returning a sample as a float in [-1, 1). */
function sampleReader(bits: number, encoding: 'pcm' | 'float'): SampleReader {
  if (encoding === 'float') return bits === 32 ? (b, o) => b.readFloatLE(o) : (b, o) => b.readDoubleLE(o);
  switch (bits) {
    case 8: return (b, o) => (b[o]! - 128) / 128;
    case 16: return (b, o) => b.readInt16LE(o) / 32768;
    case 24: return (b, o) => b.readIntLE(o, 3) / 8388608;
    default: return (b, o) => b.readInt32LE(o) / 2147483648;
  }
}

const toS16 = (v: number) => Math.max(-32768, Math.min(32767, Math.round(v * 32768)));

/**
 * Streams a parsed WAV as S16LE frames in a target format. Mono <-> stereo is duplicated or
 * averaged; other channel counts are refused, as are targets other than 1 or 2 channels.
 */
export class WavConverter {
  /** output frames produced so far */
  produced = 0;
  private readonly read: SampleReader;
  private readonly frameBytes: number;
  private readonly bytesPerSample: number;
  private readonly ratio: number;

  constructor(private readonly wav: Wav, readonly target: TargetFormat, what = 'WAV file') {
    const f = wav.format;
    if (f.channels > 2) {
      throw new SpiceError('input', `${what}: ${f.channels} channels; only mono or stereo input is supported (e.g. sox IN -c 2 OUT.wav)`);
    }
    if (target.channels !== 1 && target.channels !== 2) {
      throw new SpiceError('input', `the server asked for ${target.channels}-channel audio; spicectl converts only to mono or stereo`);
    }
    this.read = sampleReader(f.bitsPerSample, f.encoding);
    this.bytesPerSample = f.bitsPerSample / 8;
    this.frameBytes = this.bytesPerSample * f.channels;
    this.ratio = f.sampleRate / target.frequency;
  }

  /** Output frames in total. */
  get totalFrames(): number {
    return Math.floor(this.wav.frames / this.ratio);
  }

  get done(): boolean {
    return this.produced >= this.totalFrames;
  }

  /** Input channel c of input frame i, as a float. */
  private at(i: number, c: number): number {
    const ch = Math.min(c, this.wav.format.channels - 1);
    return this.read(this.wav.data, i * this.frameBytes + ch * this.bytesPerSample);
  }

  private value(pos: number, c: number): number {
    const last = this.wav.frames - 1;
    const i = Math.min(Math.floor(pos), last);
    const frac = pos - i;
    const a = this.at(i, c);
    if (frac === 0 || i >= last) return a;
    return a + (this.at(i + 1, c) - a) * frac;
  }

  /** Up to n output frames as S16LE interleaved, or null when the input is used up. */
  next(n: number): Buffer | null {
    const count = Math.min(n, this.totalFrames - this.produced);
    if (count <= 0) return null;
    const outCh = this.target.channels;
    const inCh = this.wav.format.channels;
    const out = Buffer.allocUnsafe(count * outCh * 2);
    let o = 0;
    for (let k = 0; k < count; k++) {
      const pos = (this.produced + k) * this.ratio;
      if (outCh === 1 && inCh === 2) {
        out.writeInt16LE(toS16((this.value(pos, 0) + this.value(pos, 1)) / 2), o);
        o += 2;
      } else {
        for (let c = 0; c < outCh; c++, o += 2) out.writeInt16LE(toS16(this.value(pos, c)), o);
      }
    }
    this.produced += count;
    return out;
  }
}
