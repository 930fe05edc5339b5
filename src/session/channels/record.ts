import { ProtocolError } from '../../util/errors.js';
import { capsWords } from '../wire/caps.js';
import { ChannelType } from '../wire/enums.js';
import {
  AUDIO_FMT_S16, AudioDataMode, MsgRecord, MsgcRecord, RecordCap, encodeRecordData, encodeRecordMode,
  encodeRecordStartMark, parseMute, parseRecordStart, parseVolume, type AudioFormat,
} from '../wire/messages/playback.js';
import { Channel, type ChannelHost } from './channel.js';

/** Where recorded audio comes from: S16LE interleaved frames in the format the server asked for. */
export interface PcmSource {
  /** Called on every RECORD_START; throw a SpiceError to refuse a format. */
  configure(format: AudioFormat): void;
  /** Up to `frames` frames, or null at the end. */
  read(frames: number): Buffer | null;
}

export interface RecordOptions {
  /** The server's multimedia clock (ms); default: ms since the channel was made. */
  clock?: () => number;
}

/** Frames per DATA message: 10 ms at 48 kHz, as the server's own Opus framing. */
const PACKET_MS = 10;
/** How far ahead of real time we keep the server fed. */
const LEAD_MS = 40;

/**
 * Record: feeds the guest's "microphone". On RECORD_START it sends MODE(RAW) and START_MARK
 * with the same timestamp, then DATA packets paced at real time from `source` until the server
 * sends STOP or the source ends ('source-end'). Emits 'start' (AudioFormat), 'stop'.
 */
export class RecordChannel extends Channel {
  source: PcmSource | null = null;
  format: AudioFormat | null = null;
  volume: number[] | null = null;
  mute = false;
  recording = false;
  sourceEnded = false;
  readonly sent = { packets: 0, frames: 0, bytes: 0, starts: 0, stops: 0 };
  private timer: NodeJS.Timeout | null = null;
  private startedAt = 0;
  private framesThisRun = 0;
  private readonly clock: () => number;

  constructor(host: ChannelHost, id: number, opts: RecordOptions = {}, t0?: number) {
    super(host, ChannelType.record, id, t0);
    this.clock = opts.clock ?? (() => Math.round(performance.now() - this.t0) >>> 0);
    this.on('state', (s: string) => {
      if (s === 'closed' || s === 'failed') this.stopPacing();
    });
  }

  channelCaps(): number[] {
    return capsWords([RecordCap.volume]);
  }

  protected onMessage(type: number, body: Buffer): void {
    switch (type) {
      case MsgRecord.start: {
        const f = parseRecordStart(body);
        if (f.format !== AUDIO_FMT_S16) throw new ProtocolError(`RECORD_START: audio format ${f.format} (only S16 = 1 exists)`);
        this.format = f;
        this.sent.starts++;
        this.emit('start', f);
        if (!this.source || this.sourceEnded) return;
        try {
          this.source.configure(f);
        } catch (e) {
          this.source = null;
          this.emit('source-error', e);
          return;
        }
        const now = this.clock();
        this.send(MsgcRecord.mode, encodeRecordMode(now, AudioDataMode.raw));
        this.send(MsgcRecord.startMark, encodeRecordStartMark(now));
        this.recording = true;
        this.startedAt = performance.now();
        this.framesThisRun = 0;
        this.pump();
        this.timer = setInterval(() => this.pump(), PACKET_MS);
        return;
      }
      case MsgRecord.stop:
        this.sent.stops++;
        this.stopPacing();
        this.emit('stop');
        return;
      case MsgRecord.volume:
        this.volume = parseVolume(body, 'RECORD_VOLUME');
        return;
      case MsgRecord.mute:
        this.mute = parseMute(body, 'RECORD_MUTE');
        return;
      default:
        this.host.log.debug({ channel: this.name, type }, 'record: message ignored');
    }
  }

  private stopPacing(): void {
    this.recording = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Sends what real time (plus a small lead) calls for. */
  private pump(): void {
    if (!this.recording || !this.source || !this.format || this.state !== 'ready') return;
    const rate = this.format.frequency;
    const perPacket = Math.round((rate * PACKET_MS) / 1000);
    const due = ((performance.now() - this.startedAt + LEAD_MS) * rate) / 1000;
    while (this.framesThisRun < due) {
      const pcm = this.source.read(perPacket);
      if (!pcm || pcm.length === 0) {
        this.sourceEnded = true;
        this.stopPacing();
        this.emit('source-end');
        return;
      }
      const frames = pcm.length / (2 * this.format.channels);
      this.send(MsgcRecord.data, encodeRecordData(this.clock(), pcm));
      this.sent.packets++;
      this.sent.frames += frames;
      this.sent.bytes += pcm.length;
      this.framesThisRun += frames;
    }
  }

  override describe() {
    return { ...super.describe(), record: { format: this.format, volume: this.volume, mute: this.mute, sourceEnded: this.sourceEnded, ...this.sent } };
  }
}
