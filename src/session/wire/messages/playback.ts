import { ProtocolError } from '../../../util/errors.js';
import { Reader } from '../reader.js';
import { Writer } from '../writer.js';

// Playback (type 5) and record (type 6) channels (digest §7).
export const PlaybackCap = { celt051: 0, volume: 1, latency: 2, opus: 3 } as const;
export const RecordCap = { celt051: 0, volume: 1, opus: 2 } as const;
export const AudioDataMode = { invalid: 0, raw: 1, celt051: 2, opus: 3 } as const;
export const AUDIO_MODE_NAMES: Record<number, string> = { 0: 'INVALID', 1: 'RAW', 2: 'CELT_0_5_1', 3: 'OPUS' };
/** SPICE_AUDIO_FMT_S16: signed 16-bit little-endian, interleaved. */
export const AUDIO_FMT_S16 = 1;

export const MsgPlayback = { data: 101, mode: 102, start: 103, stop: 104, volume: 105, mute: 106, latency: 107 } as const;
export const MsgRecord = { start: 101, stop: 102, volume: 103, mute: 104 } as const;
export const MsgcRecord = { data: 101, mode: 102, startMark: 103 } as const;

export interface AudioFormat {
  channels: number;
  format: number;
  frequency: number;
}

// PLAYBACK DATA: u32 time, data = rest
export function parsePlaybackData(body: Buffer): { time: number; data: Buffer } {
  const r = new Reader(body, 0, 'PLAYBACK_DATA');
  return { time: r.u32('time'), data: r.rest() };
}
export function encodePlaybackData(time: number, data: Uint8Array): Buffer {
  return new Writer(4 + data.length).u32(time).bytes(data).finish();
}

// PLAYBACK MODE: u32 time, u16 mode, data = rest (codec init data, normally empty)
export function parsePlaybackMode(body: Buffer): { time: number; mode: number } {
  const r = new Reader(body, 0, 'PLAYBACK_MODE');
  return { time: r.u32('time'), mode: r.u16('mode') };
}
export function encodePlaybackMode(time: number, mode: number): Buffer {
  return new Writer(6).u32(time).u16(mode).finish();
}

// PLAYBACK START: u32 channels, u16 format, u32 frequency, u32 time
export function parsePlaybackStart(body: Buffer): AudioFormat & { time: number } {
  const r = new Reader(body, 0, 'PLAYBACK_START');
  const f = { channels: r.u32('channels'), format: r.u16('format'), frequency: r.u32('frequency'), time: r.u32('time') };
  checkFormat(f, 'PLAYBACK_START');
  return f;
}
export function encodePlaybackStart(f: AudioFormat, time: number): Buffer {
  return new Writer(14).u32(f.channels).u16(f.format).u32(f.frequency).u32(time).finish();
}

// RECORD START (s->c): u32 channels, u16 format, u32 frequency
export function parseRecordStart(body: Buffer): AudioFormat {
  const r = new Reader(body, 0, 'RECORD_START');
  const f = { channels: r.u32('channels'), format: r.u16('format'), frequency: r.u32('frequency') };
  checkFormat(f, 'RECORD_START');
  return f;
}
export function encodeRecordStart(f: AudioFormat): Buffer {
  return new Writer(10).u32(f.channels).u16(f.format).u32(f.frequency).finish();
}

function checkFormat(f: AudioFormat, what: string): void {
  if (f.channels < 1 || f.channels > 8) throw new ProtocolError(`${what}: ${f.channels} channels`);
  if (f.frequency < 1000 || f.frequency > 384_000) throw new ProtocolError(`${what}: frequency ${f.frequency} Hz`);
}

// VOLUME (both channels): u8 nchannels, u16 volume[nchannels]
export function parseVolume(body: Buffer, what: string): number[] {
  const r = new Reader(body, 0, what);
  const n = r.u8('nchannels');
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(r.u16('volume'));
  return out;
}
export function encodeVolume(volume: readonly number[]): Buffer {
  const w = new Writer(1 + volume.length * 2).u8(volume.length);
  for (const v of volume) w.u16(v);
  return w.finish();
}

// MUTE: u8 mute
export function parseMute(body: Buffer, what: string): boolean {
  return new Reader(body, 0, what).u8('mute') !== 0;
}
export function encodeMute(mute: boolean): Buffer {
  return new Writer(1).u8(mute ? 1 : 0).finish();
}

// LATENCY: u32 latency_ms
export function parseLatency(body: Buffer): number {
  return new Reader(body, 0, 'PLAYBACK_LATENCY').u32('latency_ms');
}

// RECORD (c->s) MODE: u32 time, u16 mode, data; START_MARK: u32 time; DATA: u32 time, samples
export function encodeRecordMode(time: number, mode: number): Buffer {
  return new Writer(6).u32(time).u16(mode).finish();
}
export function encodeRecordStartMark(time: number): Buffer {
  return new Writer(4).u32(time).finish();
}
export function encodeRecordData(time: number, samples: Uint8Array): Buffer {
  return new Writer(4 + samples.length).u32(time).bytes(samples).finish();
}
export function parseRecordData(body: Buffer): { time: number; data: Buffer } {
  const r = new Reader(body, 0, 'RECORD_DATA');
  return { time: r.u32('time'), data: r.rest() };
}
export function parseRecordMode(body: Buffer): { time: number; mode: number } {
  const r = new Reader(body, 0, 'RECORD_MODE');
  return { time: r.u32('time'), mode: r.u16('mode') };
}
