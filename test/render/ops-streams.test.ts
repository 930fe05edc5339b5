// Video streams: MJPEG frames whose Huffman tables come only in the first frame (as spice-server
// sends them), bottom-up flipping, placement and scaling at dest, clip, reports (periodic, and
// the "cannot decode" report for other codecs and unknown streams), capabilities.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import jpeg from 'jpeg-js';
import { Writer } from '../../src/session/wire/writer.js';
import { DisplayCap, MsgDisplay, MsgcDisplay } from '../../src/session/wire/enums.js';
import { capBits } from '../../src/session/wire/caps.js';
import { parseStreamReport } from '../../src/session/wire/messages/display.js';
import { completeMjpegFrame, decodeMjpegFrame } from '../../src/render/streams.js';
import { ProtocolError } from '../../src/util/errors.js';
import { R, TestDisplay, rect } from './ops-wire.js';

/** A w x h JPEG: top half red, bottom half blue (as RGBA rows top-down). */
function redOverBlue(w: number, h: number): Buffer {
  const data = Buffer.alloc(w * h * 4);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data.set(y < h / 2 ? [255, 0, 0, 255] : [0, 0, 255, 255], (y * w + x) * 4);
  return jpeg.encode({ width: w, height: h, data }, 90).data;
}

/** The same JPEG without its DHT segments (what spice-server sends after a stream's first frame). */
function withoutHuffman(j: Buffer): Buffer {
  const parts: Buffer[] = [j.subarray(0, 2)];
  let p = 2;
  while (p < j.length) {
    const m = j[p + 1]!;
    if (m === 0xda) { parts.push(j.subarray(p)); break; }
    const len = j.readUInt16BE(p + 2);
    if (m !== 0xc4) parts.push(j.subarray(p, p + 2 + len));
    p += 2 + len;
  }
  return Buffer.concat(parts);
}

const near = (rgb: number, want: number) => [16, 8, 0].every((s) => Math.abs(((rgb >> s) & 255) - ((want >> s) & 255)) < 24);

test('frames without Huffman tables decode with the tables of an earlier frame', () => {
  const full = redOverBlue(16, 16);
  const bare = withoutHuffman(full);
  assert.ok(bare.length < full.length);
  assert.throws(() => decodeMjpegFrame(bare, true), ProtocolError);
  const tables = { dht: null, dqt: null };
  decodeMjpegFrame(full, true, tables);
  const img = decodeMjpegFrame(bare, true, tables);
  assert.equal(img.width, 16);
  assert.ok(img.data[2]! > 200 && img.data[0]! < 40, 'first row is red (B,G,R,A)');
  // bottom-up streams are flipped
  const flipped = decodeMjpegFrame(full, false);
  assert.ok(flipped.data[0]! > 200 && flipped.data[2]! < 40, 'first row is blue');
  // frames that carry their own tables are left alone; non-JPEG bytes pass through
  assert.equal(completeMjpegFrame(full, tables), full);
  assert.deepEqual(completeMjpegFrame(Buffer.from([1, 2, 3]), tables), Buffer.from([1, 2, 3]));
});

function streamCreate(id: number, codec: number, flags: number, dest: ReturnType<typeof R>, clip: ReturnType<typeof R>[] | null = null): Buffer {
  const w = new Writer().u32(0).u32(id).u8(flags).u8(codec).u64(0n).u32(16).u32(16).u32(16).u32(16);
  rect(w, dest);
  if (!clip) return w.u8(0).finish();
  w.u8(1).u32(clip.length);
  for (const c of clip) rect(w, c);
  return w.finish();
}
const streamData = (id: number, mm: number, data: Buffer) => new Writer().u32(id).u32(mm).u32(data.length).bytes(data).finish();

test('MJPEG stream: bottom-up frames flipped into dest, clipped, with periodic reports', () => {
  const d = new TestDisplay().primarySurface(40, 20);
  d.feed(MsgDisplay.streamCreate, streamCreate(3, 1, 0, R(4, 2, 20, 18), [R(0, 0, 40, 10)]));
  d.feed(MsgDisplay.streamActivateReport, new Writer().u32(3).u32(77).u32(2).u32(100000).finish());
  const full = redOverBlue(16, 16);
  d.feed(MsgDisplay.streamData, streamData(3, 1000, full));
  assert.equal(d.sent.length, 0, 'no report before the window is full');
  d.feed(MsgDisplay.streamData, streamData(3, 1040, withoutHuffman(full)));
  // bottom-up: the JPEG's first rows (red) are the bottom of the picture
  assert.ok(near(d.rgb(10, 3), 0x0000ff), 'top of dest is blue');
  assert.ok(near(d.rgb(10, 9), 0x0000ff), 'row 9 is still blue (rows 2-9 are the bottom half flipped)');
  assert.equal(d.rgb(10, 12), 0, 'below the clip nothing is drawn');
  assert.equal(d.rgb(2, 5), 0, 'left of dest nothing is drawn');
  assert.equal(d.sent.length, 1);
  assert.equal(d.sent[0]!.type, MsgcDisplay.streamReport);
  const r = parseStreamReport(d.sent[0]!.body);
  assert.deepEqual([r.streamId, r.uniqueId, r.numFrames, r.numDrops, r.startFrameMmTime, r.endFrameMmTime, r.audioDelay], [3, 77, 2, 0, 1000, 1040, 0xffffffff]);
  assert.equal(d.streamStats.frames, 2);
  // destroy: later data is answered with the "no such stream" report
  d.feed(MsgDisplay.streamDestroy, new Writer().u32(3).finish());
  d.feed(MsgDisplay.streamData, streamData(3, 1080, full));
  const gone = parseStreamReport(d.sent[1]!.body);
  assert.deepEqual([gone.streamId, gone.numFrames, gone.numDrops], [3, 0, 0xffffffff]);
});

test('STREAM_DATA_SIZED scales the frame to its own dest; TOP_DOWN frames are not flipped', () => {
  const d = new TestDisplay().primarySurface(40, 40);
  d.feed(MsgDisplay.streamCreate, streamCreate(1, 1, 1, R(0, 0, 16, 16)));
  const frame = redOverBlue(16, 16);
  const sized = new Writer().u32(1).u32(5).u32(16).u32(16);
  rect(sized, R(0, 0, 32, 32));
  d.feed(MsgDisplay.streamDataSized, sized.u32(frame.length).bytes(frame).finish());
  assert.ok(near(d.rgb(20, 4), 0xff0000) && near(d.rgb(20, 28), 0x0000ff) && near(d.rgb(31, 31), 0x0000ff));
  assert.equal(d.rgb(33, 33), 0);
});

test('streams of codecs we do not decode are refused with num_drops 0xFFFFFFFF; broken frames count as drops', () => {
  const d = new TestDisplay({ strict: false }).primarySurface(8, 8);
  d.feed(MsgDisplay.streamCreate, streamCreate(2, 3 /* H264 */, 0, R(0, 0, 8, 8)));
  const r = parseStreamReport(d.sent[0]!.body);
  assert.deepEqual([r.streamId, r.numFrames, r.numDrops], [2, 0, 0xffffffff]);
  assert.equal(d.streamStats.refused, 1);
  d.feed(MsgDisplay.streamCreate, streamCreate(4, 1, 0, R(0, 0, 8, 8)));
  d.feed(MsgDisplay.streamData, streamData(4, 1, Buffer.from('not a jpeg')));
  assert.equal(d.streamStats.drops, 1);
  assert.equal(d.state, 'idle', 'the channel did not fail');
  d.feed(MsgDisplay.streamDestroyAll, Buffer.alloc(0));
  assert.equal(d.streams.streams.size, 0);
});

test('capabilities: MULTI_CODEC + MJPEG + SIZED_STREAM + STREAM_REPORT; COMPOSITE only when asked; codec preference only on request', () => {
  const d = new TestDisplay({}, [DisplayCap.prefVideoCodecType, DisplayCap.prefCompression]);
  const caps = capBits(d.channelCaps());
  for (const c of [DisplayCap.multiCodec, DisplayCap.codecMjpeg, DisplayCap.sizedStream, DisplayCap.streamReport, DisplayCap.monitorsConfig]) assert.ok(caps.includes(c), `cap ${c}`);
  assert.ok(!caps.includes(DisplayCap.composite) && !caps.includes(DisplayCap.codecVp8) && !caps.includes(DisplayCap.codecH264));
  assert.ok(capBits(new TestDisplay({ composite: true }).channelCaps()).includes(DisplayCap.composite));
  const none = capBits(new TestDisplay({ videoCodecs: [] }).channelCaps());
  assert.ok(none.includes(DisplayCap.multiCodec) && !none.includes(DisplayCap.codecMjpeg));
  // Not sent by default: Xspice's libspice-server crashes when it arrives during a playing stream.
  d['onReady']();
  assert.equal(d.sent.find((m) => m.type === MsgcDisplay.preferredVideoCodecType), undefined);
  const asked = new TestDisplay({ videoCodecs: [1] }, [DisplayCap.prefVideoCodecType]);
  asked['onReady']();
  const pref = asked.sent.find((m) => m.type === MsgcDisplay.preferredVideoCodecType)!;
  assert.deepEqual([...pref.body], [1, 1]);
});
