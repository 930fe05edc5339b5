// Playback and record channels fed server messages directly (no sockets), and the glue that
// writes playback to a WAV file and feeds record from one.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { silentLogger } from '../../src/util/log.js';
import { ProtocolError } from '../../src/util/errors.js';
import type { ChannelHost } from '../../src/session/channels/channel.js';
import { PlaybackChannel } from '../../src/session/channels/playback.js';
import { RecordChannel } from '../../src/session/channels/record.js';
import { capBits } from '../../src/session/wire/caps.js';
import {
  AUDIO_FMT_S16, AudioDataMode, MsgPlayback, MsgRecord, MsgcRecord, encodeMute, encodePlaybackData, encodePlaybackMode,
  encodePlaybackStart, encodeRecordStart, encodeVolume, parseRecordData, parseRecordMode,
} from '../../src/session/wire/messages/playback.js';
import { SessionAudio, WavSource } from '../../src/audio/session-audio.js';
import { WavWriter, parseWav } from '../../src/audio/wav.js';

const host: ChannelHost = { log: silentLogger, connectionId: () => 1, password: () => ({ value: '', given: false }), openSocket: async () => { throw new Error('no sockets'); } };
const dir = mkdtempSync(join(tmpdir(), 'spicectl-audio-'));
const FMT = { channels: 2, format: AUDIO_FMT_S16, frequency: 48_000 };

class TestPlayback extends PlaybackChannel {
  constructor() {
    super(host, 0);
    this.state = 'ready';
  }
  feed(type: number, body: Buffer): void {
    this.onMessage(type, body);
  }
}

class TestRecord extends RecordChannel {
  out: { type: number; body: Buffer }[] = [];
  constructor(clock?: () => number) {
    super(host, 0, { clock });
    this.state = 'ready';
  }
  override send(type: number, body: Buffer): boolean {
    this.out.push({ type, body: Buffer.from(body) });
    return true;
  }
  feed(type: number, body: Buffer): void {
    this.onMessage(type, body);
  }
}

const packet = (frames: number, v: number) => {
  const b = Buffer.alloc(frames * 4);
  for (let i = 0; i < frames * 2; i++) b.writeInt16LE(v, i * 2);
  return b;
};

describe('playback channel', () => {
  test('advertises VOLUME only (never OPUS or CELT)', () => {
    assert.deepEqual(capBits(new TestPlayback().channelCaps()), [1]);
  });

  test('MODE RAW, START, DATA, MUTE as silence, VOLUME recorded, STOP', () => {
    const ch = new TestPlayback();
    const pcm: Buffer[] = [];
    ch.on('pcm', (b: Buffer) => pcm.push(b));
    ch.feed(MsgPlayback.mode, encodePlaybackMode(1, AudioDataMode.raw));
    ch.feed(MsgPlayback.start, encodePlaybackStart(FMT, 1));
    ch.feed(MsgPlayback.volume, encodeVolume([30000, 40000]));
    ch.feed(MsgPlayback.data, encodePlaybackData(2, packet(480, 1000)));
    ch.feed(MsgPlayback.mute, encodeMute(true));
    ch.feed(MsgPlayback.data, encodePlaybackData(3, packet(480, 1000)));
    ch.feed(MsgPlayback.mute, encodeMute(false));
    ch.feed(MsgPlayback.stop, Buffer.alloc(0));
    assert.equal(pcm.length, 2);
    assert.equal(pcm[0]!.readInt16LE(0), 1000);
    assert.ok(pcm[1]!.every((b) => b === 0), 'muted packet is silence');
    assert.deepEqual(ch.volume, [30000, 40000]);
    assert.equal(ch.audio.frames, 960);
    assert.equal(ch.audio.mutedFrames, 480);
    assert.deepEqual(ch.changes.map((c) => Object.keys(c).filter((k) => k !== 'atMs')[0]), ['volume', 'mute', 'mute']);
    assert.equal(ch.playing, false);
  });

  test('Opus (not advertised) or data before START: a protocol error naming it', () => {
    assert.throws(() => new TestPlayback().feed(MsgPlayback.mode, encodePlaybackMode(1, AudioDataMode.opus)), (e) => e instanceof ProtocolError && /OPUS playback audio, but spicectl only decodes RAW/.test(e.message));
    assert.throws(() => new TestPlayback().feed(MsgPlayback.data, encodePlaybackData(1, packet(1, 0))), /before PLAYBACK_START/);
    const ch = new TestPlayback();
    ch.feed(MsgPlayback.start, encodePlaybackStart(FMT, 1));
    assert.throws(() => ch.feed(MsgPlayback.data, encodePlaybackData(1, Buffer.alloc(3))), /not a whole number/);
  });

  test('SessionAudio writes the played audio to a WAV file', () => {
    const session = new EventEmitter() as EventEmitter & { channels: PlaybackChannel[] };
    session.channels = [];
    const out = join(dir, 'play.wav');
    const audio = new SessionAudio(session, { out });
    const ch = new TestPlayback();
    session.emit('channel', ch);
    ch.feed(MsgPlayback.start, encodePlaybackStart(FMT, 1));
    for (let i = 0; i < 10; i++) ch.feed(MsgPlayback.data, encodePlaybackData(i, packet(480, i)));
    ch.feed(MsgPlayback.mute, encodeMute(true));
    ch.feed(MsgPlayback.data, encodePlaybackData(11, packet(480, 5)));
    audio.close();
    const wav = parseWav(readFileSync(out));
    assert.equal(wav.frames, 11 * 480);
    assert.equal(wav.data.readInt16LE(9 * 480 * 4), 9);
    assert.equal(wav.data.readInt16LE(10 * 480 * 4), 0);
    const r = audio.report().playback!;
    assert.equal(r.seconds, 0.11);
    assert.equal(r.mutedFrames, 480);
    assert.equal(r.mute, true);
  });

  test('SessionAudio: a server that never plays still leaves a valid (empty) WAV file', () => {
    const session = Object.assign(new EventEmitter(), { channels: [] });
    const out = join(dir, 'silent.wav');
    new SessionAudio(session, { out }).close();
    assert.equal(parseWav(readFileSync(out)).frames, 0);
  });
});

describe('record channel', () => {
  function wavSource(seconds: number) {
    const path = join(dir, `in-${seconds}.wav`);
    const w = new WavWriter(path, { encoding: 'pcm', channels: 2, sampleRate: 48_000, bitsPerSample: 16 });
    w.write(packet(Math.round(48_000 * seconds), 123));
    w.close();
    return WavSource.load(path);
  }

  test('on START: MODE RAW and START_MARK with the same time, then 10 ms DATA packets at real-time pace until the file ends', async () => {
    const ch = new TestRecord(() => 5000);
    ch.source = wavSource(0.2);
    const ended = new Promise((r) => ch.once('source-end', r));
    ch.feed(MsgRecord.start, encodeRecordStart(FMT));
    assert.deepEqual(ch.out.slice(0, 2).map((o) => o.type), [MsgcRecord.mode, MsgcRecord.startMark]);
    assert.deepEqual(parseRecordMode(ch.out[0]!.body), { time: 5000, mode: AudioDataMode.raw });
    assert.equal(ch.out[1]!.body.readUInt32LE(0), 5000);
    // only the lead (~40 ms) goes at once
    const early = ch.out.filter((o) => o.type === MsgcRecord.data).length;
    assert.ok(early >= 4 && early <= 6, `${early} packets at once`);
    const t0 = performance.now();
    await ended;
    const ms = performance.now() - t0;
    assert.ok(ms >= 120, `paced: ${ms} ms for 200 ms of audio`);
    const data = ch.out.filter((o) => o.type === MsgcRecord.data).map((o) => parseRecordData(o.body));
    assert.equal(data.length, 20);
    assert.ok(data.every((d) => d.data.length === 480 * 4 && d.data.readInt16LE(0) === 123));
    assert.equal(ch.sent.frames, 9600);
  });

  test('STOP pauses; the next START goes on where it stopped', async () => {
    const ch = new TestRecord();
    ch.source = wavSource(1);
    ch.feed(MsgRecord.start, encodeRecordStart(FMT));
    await sleep(30);
    ch.feed(MsgRecord.stop, Buffer.alloc(0));
    const n = ch.sent.frames;
    await sleep(40);
    assert.equal(ch.sent.frames, n, 'nothing sent while stopped');
    ch.feed(MsgRecord.start, encodeRecordStart(FMT));
    assert.ok(ch.sent.frames > n);
    assert.equal(ch.out.filter((o) => o.type === MsgcRecord.startMark).length, 2);
    ch.close();
  });

  test('no source: START is answered with nothing', () => {
    const ch = new TestRecord();
    ch.feed(MsgRecord.start, encodeRecordStart(FMT));
    assert.equal(ch.out.length, 0);
  });
});
