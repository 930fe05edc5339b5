import { ProtocolError } from '../../util/errors.js';
import { capsWords } from '../wire/caps.js';
import { ChannelType } from '../wire/enums.js';
import {
  AUDIO_FMT_S16, AUDIO_MODE_NAMES, AudioDataMode, MsgPlayback, PlaybackCap, parseLatency, parseMute,
  parsePlaybackData, parsePlaybackMode, parsePlaybackStart, parseVolume, type AudioFormat,
} from '../wire/messages/playback.js';
import { Channel, type ChannelHost } from './channel.js';

export interface AudioCounters {
  packets: number;
  bytes: number;
  frames: number;
  /** frames written as silence because the server had muted playback */
  mutedFrames: number;
  starts: number;
  stops: number;
}

/**
 * Playback: the server's audio as RAW S16 PCM. spicectl advertises VOLUME (so it hears about
 * volume and mute) but not OPUS, so the server sends RAW. Mute is applied as silence; volume is
 * recorded (see `volume`) and left to whoever plays the result.
 * Emits 'start' (AudioFormat), 'pcm' (Buffer, mm time), 'stop', 'volume' (number[]), 'mute' (boolean).
 */
export class PlaybackChannel extends Channel {
  format: AudioFormat | null = null;
  mode: number = AudioDataMode.raw;
  volume: number[] | null = null;
  mute = false;
  latencyMs: number | null = null;
  playing = false;
  readonly audio: AudioCounters = { packets: 0, bytes: 0, frames: 0, mutedFrames: 0, starts: 0, stops: 0 };
  /** every VOLUME/MUTE the server sent, with ms since the channel started */
  readonly changes: { atMs: number; volume?: number[]; mute?: boolean }[] = [];

  constructor(host: ChannelHost, id: number, t0?: number) {
    super(host, ChannelType.playback, id, t0);
  }

  channelCaps(): number[] {
    // Never OPUS (no decoder here) and never CELT (obsolete).
    return capsWords([PlaybackCap.volume]);
  }

  protected onMessage(type: number, body: Buffer): void {
    switch (type) {
      case MsgPlayback.mode: {
        const { mode } = parsePlaybackMode(body);
        if (mode !== AudioDataMode.raw) {
          throw new ProtocolError(`the server sent ${AUDIO_MODE_NAMES[mode] ?? `mode ${mode}`} playback audio, but spicectl only decodes RAW (it did not advertise ${AUDIO_MODE_NAMES[mode] ?? mode})`);
        }
        this.mode = mode;
        return;
      }
      case MsgPlayback.start: {
        const f = parsePlaybackStart(body);
        if (f.format !== AUDIO_FMT_S16) throw new ProtocolError(`PLAYBACK_START: audio format ${f.format} (only S16 = 1 exists)`);
        this.format = { channels: f.channels, format: f.format, frequency: f.frequency };
        this.playing = true;
        this.audio.starts++;
        this.emit('start', this.format);
        return;
      }
      case MsgPlayback.data: {
        const { time, data } = parsePlaybackData(body);
        if (!this.format) throw new ProtocolError('PLAYBACK_DATA before PLAYBACK_START');
        const frameBytes = 2 * this.format.channels;
        if (data.length % frameBytes) throw new ProtocolError(`PLAYBACK_DATA of ${data.length} bytes is not a whole number of ${this.format.channels}-channel S16 frames`);
        const frames = data.length / frameBytes;
        this.audio.packets++;
        this.audio.bytes += data.length;
        this.audio.frames += frames;
        let pcm = data;
        if (this.mute) {
          pcm = Buffer.alloc(data.length);
          this.audio.mutedFrames += frames;
        }
        this.emit('pcm', pcm, time);
        return;
      }
      case MsgPlayback.stop:
        this.playing = false;
        this.audio.stops++;
        this.emit('stop');
        return;
      case MsgPlayback.volume:
        this.volume = parseVolume(body, 'PLAYBACK_VOLUME');
        this.changes.push({ atMs: Math.round(performance.now() - this.t0), volume: this.volume });
        this.emit('volume', this.volume);
        return;
      case MsgPlayback.mute:
        this.mute = parseMute(body, 'PLAYBACK_MUTE');
        this.changes.push({ atMs: Math.round(performance.now() - this.t0), mute: this.mute });
        this.emit('mute', this.mute);
        return;
      case MsgPlayback.latency:
        this.latencyMs = parseLatency(body);
        return;
      default:
        this.host.log.debug({ channel: this.name, type }, 'playback: message ignored');
    }
  }

  override describe() {
    return {
      ...super.describe(),
      audio: { format: this.format, mode: AUDIO_MODE_NAMES[this.mode], volume: this.volume, mute: this.mute, latencyMs: this.latencyMs, ...this.audio },
    };
  }
}
