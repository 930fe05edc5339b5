// Glue between a session's audio channels and files: playback -> a WAV file (--audio-out),
// a WAV file -> record (--audio-in). Attach before connect(); close() at the end.
import { readFileSync } from 'node:fs';
import { SpiceError } from '../util/errors.js';
import { silentLogger, type Logger } from '../util/log.js';
import type { Channel } from '../session/channels/channel.js';
import { PlaybackChannel } from '../session/channels/playback.js';
import { RecordChannel, type PcmSource } from '../session/channels/record.js';
import type { AudioFormat } from '../session/wire/messages/playback.js';
import { WavConverter } from './convert.js';
import { WavWriter, parseWav, type Wav, type WavFormat } from './wav.js';

/** spice-server 0.15 always plays and records 48 kHz stereo S16. */
export const SPICE_AUDIO_DEFAULT = { channels: 2, frequency: 48_000 } as const;

/** A WAV file as a record source, converted to whatever format RECORD_START asks for. */
export class WavSource implements PcmSource {
  private conv: WavConverter | null = null;
  readonly seconds: number;

  constructor(readonly wav: Wav, readonly path: string) {
    // Refuse what cannot be converted before connecting: the server's usual format is the test.
    new WavConverter(wav, SPICE_AUDIO_DEFAULT, path);
    this.seconds = wav.frames / wav.format.sampleRate;
  }

  static load(path: string): WavSource {
    let buf: Buffer;
    try {
      buf = readFileSync(path);
    } catch (e) {
      throw new SpiceError('input', `cannot read ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
    return new WavSource(parseWav(buf, path), path);
  }

  configure(f: AudioFormat): void {
    const prev = this.conv;
    if (prev && prev.target.channels === f.channels && prev.target.frequency === f.frequency) return;
    this.conv = new WavConverter(this.wav, { channels: f.channels, frequency: f.frequency }, this.path);
    // A new format after a STOP: carry on from the same point in time.
    if (prev) this.conv.produced = Math.round((prev.produced * f.frequency) / prev.target.frequency);
  }

  read(frames: number): Buffer | null {
    return this.conv?.next(frames) ?? null;
  }

  /** seconds of the file sent so far */
  get position(): number {
    return this.conv ? this.conv.produced / this.conv.target.frequency : 0;
  }
}

export interface AudioFiles {
  /** write the playback channel's audio to this WAV file */
  out?: string;
  /** feed the record channel from this WAV file (already loaded, so bad files fail early) */
  in?: WavSource;
  log?: Logger;
}

export interface PlaybackReport {
  file: string;
  format: WavFormat | null;
  seconds: number;
  frames: number;
  mutedFrames: number;
  starts: number;
  stops: number;
  /** last VOLUME the server sent (u16 per channel; recorded, not applied) */
  volume: number[] | null;
  mute: boolean;
  changes: { atMs: number; volume?: number[]; mute?: boolean }[];
  /** packets dropped because the server changed format mid-file */
  skippedPackets: number;
}

export interface RecordReport {
  file: string;
  seconds: number;
  sentSeconds: number;
  packets: number;
  starts: number;
  ended: boolean;
  error?: string;
}

interface SessionLike {
  channels: Channel[];
  on(event: 'channel', cb: (ch: Channel) => void): unknown;
}

/** Hooks the audio channels of a session (present and future) to files. */
export class SessionAudio {
  private writer: WavWriter | null = null;
  private playback: PlaybackChannel | null = null;
  private record: RecordChannel | null = null;
  private skipped = 0;
  private recordError: string | null = null;
  private readonly log: Logger;

  constructor(session: SessionLike, private readonly files: AudioFiles) {
    this.log = files.log ?? silentLogger;
    // Open the output now: an unwritable path is an error before connecting, not mid-session.
    if (files.out) this.writer = new WavWriter(files.out, { encoding: 'pcm', channels: SPICE_AUDIO_DEFAULT.channels, sampleRate: SPICE_AUDIO_DEFAULT.frequency, bitsPerSample: 16 });
    for (const ch of session.channels) this.attach(ch);
    session.on('channel', (ch) => this.attach(ch));
  }

  private attach(ch: Channel): void {
    if (ch instanceof PlaybackChannel && this.files.out && !this.playback) {
      this.playback = ch;
      ch.on('start', (f: AudioFormat) => this.onStart(f));
      ch.on('pcm', (pcm: Buffer) => {
        const f = this.playback?.format;
        if (!this.writer || !f || f.channels !== this.writer.format.channels || f.frequency !== this.writer.format.sampleRate) {
          this.skipped++;
          return;
        }
        this.writer.write(pcm);
      });
    }
    if (ch instanceof RecordChannel && this.files.in && !this.record) {
      this.record = ch;
      ch.source = this.files.in;
      ch.on('source-error', (e: Error) => {
        this.recordError = e.message;
        this.log.warn({ err: e.message }, 'record: the input file cannot be sent');
      });
      ch.on('source-end', () => this.log.info({ file: this.files.in?.path }, 'record: end of the input file'));
    }
  }

  private onStart(f: AudioFormat): void {
    const w = this.writer!;
    if (f.channels === w.format.channels && f.frequency === w.format.sampleRate) return;
    if (w.dataBytes === 0) {
      // Nothing written yet: the file takes the server's format.
      w.close();
      this.writer = new WavWriter(this.files.out!, { encoding: 'pcm', channels: f.channels, sampleRate: f.frequency, bitsPerSample: 16 });
    } else {
      this.log.warn({ was: w.format, now: f }, 'playback: the server changed the audio format; its packets are left out of the WAV file');
    }
  }

  /** The record source has been sent to the end. */
  get recordDone(): boolean {
    return this.record?.sourceEnded ?? false;
  }

  /** Finishes the WAV file (an empty 48 kHz stereo one when the server never played anything). */
  close(): void {
    this.writer?.close();
  }

  report(): { playback?: PlaybackReport; record?: RecordReport } {
    const out: { playback?: PlaybackReport; record?: RecordReport } = {};
    if (this.files.out) {
      const p = this.playback;
      const w = this.writer;
      out.playback = {
        file: this.files.out,
        format: w?.format ?? null,
        seconds: w ? Math.round((w.frames / w.format.sampleRate) * 1000) / 1000 : 0,
        frames: w?.frames ?? 0,
        mutedFrames: p?.audio.mutedFrames ?? 0,
        starts: p?.audio.starts ?? 0,
        stops: p?.audio.stops ?? 0,
        volume: p?.volume ?? null,
        mute: p?.mute ?? false,
        changes: p?.changes ?? [],
        skippedPackets: this.skipped,
      };
    }
    if (this.files.in) {
      const r = this.record;
      out.record = {
        file: this.files.in.path,
        seconds: Math.round(this.files.in.seconds * 1000) / 1000,
        sentSeconds: Math.round(this.files.in.position * 1000) / 1000,
        packets: r?.sent.packets ?? 0,
        starts: r?.sent.starts ?? 0,
        ended: r?.sourceEnded ?? false,
        ...(this.recordError ? { error: this.recordError } : {}),
      };
    }
    return out;
  }
}
