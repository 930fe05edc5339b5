import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ImageStore } from '../../src/render/image.js';
import { GLZ_HEADER_SIZE, parseGlzHeader } from '../../src/render/codecs/glz.js';
import { ImageType } from '../../src/render/types.js';
import { codecData, diffPixels, fixtureImages, psnr, recording, screenshot } from './codecs-fixtures.js';
import { scanGlzPass } from './glz-tools.js';
import { readRecording, replay, writeRecording } from './replay.js';

// Whole recorded display streams from real servers, replayed onto Surfaces, against the
// server's own framebuffer (X screenshot / QMP screendump) taken when the stream went quiet.
const LOSSLESS: [string, string, string[]][] = [
  ['off.bin.gz', 'basic.png', ['BITMAP (0)']],
  ['quic.bin', 'basic.png', ['QUIC (1)']],
  ['glz.bin', 'twice.png', ['GLZ_RGB (102)', 'LZ_RGB (101)']],
  ['zlib-glz.bin', 'twice.png', ['ZLIB_GLZ_RGB (107)', 'GLZ_RGB (102)']],
];

for (const [stream, png, types] of LOSSLESS) {
  test(`replay ${stream}: the final primary surface equals the server's screenshot pixel for pixel`, (t) => {
    const r = replay(recording(stream));
    for (const type of types) assert.ok((r.imageTypes[type] ?? 0) > 0, `${stream} has ${type} images: ${JSON.stringify(r.imageTypes)}`);
    assert.deepEqual(r.skipped, {});
    const ref = screenshot(png);
    const s = r.primary!;
    assert.equal(s.width, ref.width);
    assert.equal(s.height, ref.height);
    assert.equal(diffPixels(s.data, ref.bgra, ref.width * ref.height, false), 0);
    t.diagnostic(`${stream}: ${JSON.stringify(r.imageTypes)}, ${r.ops.drawCopy ?? 0} copies, ${r.ops.drawFill ?? 0} fills`);
  });
}

test('replay of the lossy streams stays within 30 dB of the screenshot (JPEG, JPEG_ALPHA + GLZ + ZLIB_GLZ)', (t) => {
  for (const [stream, png] of [['qemu-jpeg.bin', 'qemu-jpeg.png'], ['auto.bin', 'twice.png']] as const) {
    const r = replay(recording(stream));
    const ref = screenshot(png);
    const db = psnr(r.primary!.data, ref.bgra, ref.width * ref.height);
    t.diagnostic(`${stream}: ${JSON.stringify(r.imageTypes)}, PSNR ${db.toFixed(1)} dB`);
    assert.ok(db >= 30, `${stream}: ${db.toFixed(1)} dB`);
  }
});

test('replay: GLZ images must all be decoded, in order, for later ones to resolve', () => {
  const msgs = recording('glz.bin');
  const full = replay(msgs);
  assert.ok(full.store.glz.imageCount > 10);
  // Dropping one GLZ image that a later one copies from breaks the stream with a ProtocolError.
  const glz = fixtureImages(msgs).filter((x) => x.desc.type === ImageType.GLZ_RGB).map((x) => {
    const data = codecData(x);
    const h = parseGlzHeader(data);
    return { x, id: h.id, refs: scanGlzPass(data, GLZ_HEADER_SIZE, h.gross, 0, 3).cross.map((c) => h.id - BigInt(c.dist)) };
  });
  const referenced = glz.flatMap((g) => g.refs)[0]!;
  const victim = glz.find((g) => g.id === referenced)!;
  const cut = msgs.filter((_, i) => i !== victim.x.index);
  assert.throws(() => replay(readRecording(writeRecording(cut))), (e: Error) => e.name === 'ProtocolError' && /not in the GLZ window/.test(e.message));
  // A store shared by two replays (two display channels) sees one window.
  const store = new ImageStore();
  replay(msgs, { store });
  assert.equal(store.glz.imageCount, full.store.glz.imageCount);
});
