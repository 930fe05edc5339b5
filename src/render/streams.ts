// Video streams of the display channel (digest §4.8; spice-gtk channel-display.c): the table of
// live streams, MJPEG frame decoding, and the client's STREAM_REPORT bookkeeping. No sockets and
// no timers: the channel feeds it messages and the current time, and sends what it returns.

import { ProtocolError } from '../util/errors.js';
import { decodeJpeg } from './codecs/jpeg.js';
import { flipRows } from './pixels.js';
import type { Clip, DecodedImage, Rect } from './types.js';

export const CODEC_MJPEG = 1;
export const STREAM_FLAG_TOP_DOWN = 1;
/** Stream ids the server uses are < 64 (SPICE_MAX_NUM_STREAMS); allow some slack, refuse nonsense. */
export const MAX_STREAM_ID = 1024;
/** After this many drops in a row a report goes out early (spice-gtk does the same). */
const DROP_SEQ_LIMIT = 3;

export interface StreamReportState {
  uniqueId: number;
  maxWindow: number;
  timeoutMs: number;
  startMs: number;
  startFrameMm: number;
  frames: number;
  drops: number;
  dropSeq: number;
}

export interface StreamState {
  id: number;
  surfaceId: number;
  flags: number;
  codec: number;
  dest: Rect;
  clip: Clip;
  srcWidth: number;
  srcHeight: number;
  /** Huffman / quantisation table segments of the last frame that carried them (see completeMjpegFrame) */
  tables: { dht: Buffer | null; dqt: Buffer | null };
  /** frames shown and frames that could not be shown */
  frames: number;
  drops: number;
  report: StreamReportState | null;
}

export interface StreamReportOut {
  streamId: number; uniqueId: number; startFrameMmTime: number; endFrameMmTime: number;
  numFrames: number; numDrops: number; lastFrameDelay: number; audioDelay: number;
}

/** The report that tells the server a stream cannot be decoded: it falls back to images. */
export function unsupportedStreamReport(id: number): StreamReportOut {
  return {
    streamId: id, uniqueId: 0, startFrameMmTime: 0, endFrameMmTime: 0,
    numFrames: 0, numDrops: 0xffffffff, lastFrameDelay: 0, audioDelay: 0xffffffff,
  };
}

export class StreamTable {
  readonly streams = new Map<number, StreamState>();

  create(m: { id: number; surfaceId: number; flags: number; codec: number; dest: Rect; clip: Clip; srcWidth: number; srcHeight: number }): StreamState {
    if (m.id >= MAX_STREAM_ID) throw new ProtocolError(`display: stream id ${m.id} is out of range`);
    const st: StreamState = {
      id: m.id, surfaceId: m.surfaceId, flags: m.flags, codec: m.codec, dest: m.dest, clip: m.clip,
      srcWidth: m.srcWidth, srcHeight: m.srcHeight, tables: { dht: null, dqt: null }, frames: 0, drops: 0, report: null,
    };
    this.streams.set(m.id, st);
    return st;
  }

  get(id: number): StreamState | undefined { return this.streams.get(id); }
  destroy(id: number): void { this.streams.delete(id); }
  destroyAll(): void { this.streams.clear(); }

  /** STREAM_ACTIVATE_REPORT; false when the stream does not exist. */
  activateReport(m: { streamId: number; uniqueId: number; maxWindow: number; timeoutMs: number }): boolean {
    const st = this.streams.get(m.streamId);
    if (!st) return false;
    st.report = {
      uniqueId: m.uniqueId, maxWindow: Math.max(1, m.maxWindow), timeoutMs: m.timeoutMs,
      startMs: 0, startFrameMm: 0, frames: 0, drops: 0, dropSeq: 0,
    };
    return true;
  }

  /**
   * Accounts one frame (shown, or dropped when it could not be decoded). Returns the report to send
   * when the window is full, the timeout passed or drops keep coming; null otherwise.
   * delay = frame mm time - client mm time (positive: the frame came early).
   */
  frameDone(st: StreamState, mmTime: number, nowMs: number, delay: number, dropped: boolean): StreamReportOut | null {
    if (dropped) st.drops++; else st.frames++;
    const r = st.report;
    if (!r) return null;
    if (r.frames === 0) { r.startFrameMm = mmTime; r.startMs = nowMs; }
    r.frames++;
    if (dropped) { r.drops++; r.dropSeq++; } else r.dropSeq = 0;
    if (r.frames < r.maxWindow && nowMs - r.startMs < r.timeoutMs && r.dropSeq < DROP_SEQ_LIMIT) return null;
    const out: StreamReportOut = {
      streamId: st.id, uniqueId: r.uniqueId, startFrameMmTime: r.startFrameMm >>> 0, endFrameMmTime: mmTime >>> 0,
      numFrames: r.frames, numDrops: r.drops, lastFrameDelay: Math.max(-0x80000000, Math.min(0x7fffffff, Math.round(delay))),
      audioDelay: 0xffffffff,
    };
    r.frames = 0; r.drops = 0; r.dropSeq = 0; r.startMs = 0; r.startFrameMm = 0;
    return out;
  }
}

/**
 * spice-server's MJPEG encoder writes the Huffman tables (DHT) only in a stream's first frame
 * (libjpeg's write_all_tables is FALSE afterwards), relying on the decoder keeping them, as
 * libjpeg does across frames. A standalone decoder needs them in every frame: this remembers the
 * DHT and DQT segments of frames that have them and puts them back, right after SOI, into frames
 * that lack them. Frames that are not JPEG are returned unchanged (the decoder will refuse them).
 */
export function completeMjpegFrame(frame: Buffer, tables: { dht: Buffer | null; dqt: Buffer | null }): Buffer {
  if (frame.length < 4 || frame[0] !== 0xff || frame[1] !== 0xd8) return frame;
  const dht: Buffer[] = [];
  const dqt: Buffer[] = [];
  let p = 2;
  while (p + 4 <= frame.length) {
    if (frame[p] !== 0xff) break;
    const m = frame[p + 1]!;
    if (m === 0xff) { p++; continue; }
    if (m === 0xd8 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)) { p += 2; continue; }
    if (m === 0xda || m === 0xd9) break;
    const len = frame.readUInt16BE(p + 2);
    if (len < 2 || p + 2 + len > frame.length) break;
    if (m === 0xc4) dht.push(frame.subarray(p, p + 2 + len));
    if (m === 0xdb) dqt.push(frame.subarray(p, p + 2 + len));
    p += 2 + len;
  }
  if (dht.length) tables.dht = Buffer.concat(dht);
  if (dqt.length) tables.dqt = Buffer.concat(dqt);
  const add: Buffer[] = [];
  if (!dht.length && tables.dht) add.push(tables.dht);
  if (!dqt.length && tables.dqt) add.push(tables.dqt);
  if (!add.length) return frame;
  return Buffer.concat([frame.subarray(0, 2), ...add, frame.subarray(2)]);
}

/** Decodes one MJPEG frame (a baseline JPEG) into a top-down image. Throws ProtocolError on bad data. */
export function decodeMjpegFrame(data: Buffer, topDown: boolean, tables?: { dht: Buffer | null; dqt: Buffer | null }): DecodedImage {
  const img = decodeJpeg(tables ? completeMjpegFrame(data, tables) : data);
  if (!topDown) flipRows(img.data, img.width * 4, img.height);
  return img;
}
