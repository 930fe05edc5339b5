// Decoder throughput on recorded display streams ({u16 type, u32 size, body} per message, the
// format of test/fixtures/display/*.bin and of live captures made by display.ts): every image a
// draw uses is decoded in stream order with src/render/image.ts decodeImage, one fresh cache and
// GLZ window per pass (GLZ images refer to earlier ones), and the time is summed per image type.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { uncompressSync } from 'lz4-napi';
import { decodeImage, ImageStore, parseImageDescriptor, IMAGE_DESCRIPTOR_SIZE } from '../../src/render/image.js';
import { lz4DecodeBlock } from '../../src/render/codecs/lz4-image.js';
import { ImageType, imageTypeName } from '../../src/render/types.js';
import { MsgDisplay } from '../../src/session/wire/enums.js';
import {
  parseDrawAlphaBlend, parseDrawCopy, parseDrawOpaque, parseDrawRop3, parseDrawTransparent,
} from '../../src/session/wire/messages/display.js';

import { readRecording, type RecordedMessage } from '../../test/tools/recording.js';
export { readRecording, writeRecording, type RecordedMessage } from '../../test/tools/recording.js';

export function loadRecording(path: string): RecordedMessage[] {
  const buf = readFileSync(path);
  return readRecording(path.endsWith('.gz') ? gunzipSync(buf) : buf);
}

/** Offset of the source image of a draw message, or undefined. */
function drawImageOffset(type: number, body: Buffer): number | undefined {
  const src = (op: unknown) => (op as { src: number }).src;
  switch (type) {
    case MsgDisplay.drawCopy: return src(parseDrawCopy(body, 'copy'));
    case MsgDisplay.drawBlend: return src(parseDrawCopy(body, 'blend'));
    case MsgDisplay.drawOpaque: return src(parseDrawOpaque(body));
    case MsgDisplay.drawTransparent: return src(parseDrawTransparent(body));
    case MsgDisplay.drawAlphaBlend: return src(parseDrawAlphaBlend(body));
    case MsgDisplay.drawRop3: return src(parseDrawRop3(body));
    default: return undefined;
  }
}

export interface BenchImage { body: Buffer; offset: number; type: number; width: number; height: number; bytes: number }

/** The images of a recording, in stream order; cache lookups and surface copies are left out. */
export function recordingImages(msgs: RecordedMessage[]): BenchImage[] {
  const out: BenchImage[] = [];
  for (const m of msgs) {
    const offset = drawImageOffset(m.type, m.body);
    if (!offset) continue;
    const d = parseImageDescriptor(m.body, offset);
    if (d.type === ImageType.FROM_CACHE || d.type === ImageType.FROM_CACHE_LOSSLESS || d.type === ImageType.SURFACE) continue;
    // Compressed bytes: data_size where the layout has one right after the descriptor.
    let bytes = m.body.length - offset - IMAGE_DESCRIPTOR_SIZE;
    const at = offset + IMAGE_DESCRIPTOR_SIZE;
    if ([ImageType.QUIC, ImageType.LZ_RGB, ImageType.GLZ_RGB, ImageType.LZ4, ImageType.JPEG].includes(d.type as never)) bytes = m.body.readUInt32LE(at);
    else if (d.type === ImageType.ZLIB_GLZ_RGB) bytes = m.body.readUInt32LE(at + 4);
    else if (d.type === ImageType.JPEG_ALPHA) bytes = m.body.readUInt32LE(at + 5);
    out.push({ body: m.body, offset, type: d.type, width: d.width, height: d.height, bytes });
  }
  return out;
}

export interface CodecResult {
  codec: string;
  type: number;
  images: number;
  /** per pass */
  pixels: number;
  bytes: number;
  passes: number;
  ms: number;
  mpps: number;
  /** compressed input MB/s */
  inMBps: number;
  errors: number;
}

/** Decodes all images once, in order, with a fresh cache; adds the time per type into acc. */
function pass(images: BenchImage[], acc: Map<number, { ms: number; errors: number }>): void {
  const store = new ImageStore();
  for (const img of images) {
    const t0 = performance.now();
    let failed = false;
    try {
      decodeImage(img.body, img.offset, store, () => undefined);
    } catch {
      failed = true;
    }
    const dt = performance.now() - t0;
    const a = acc.get(img.type) ?? { ms: 0, errors: 0 };
    a.ms += dt;
    if (failed) a.errors++;
    acc.set(img.type, a);
  }
}

/** Decoder throughput per image type: warm-up passes, then passes until minMs of decoding. */
export function benchDecode(images: BenchImage[], opts: { minMs?: number; warmup?: number; maxPasses?: number } = {}): CodecResult[] {
  const minMs = opts.minMs ?? 400;
  const warm = new Map<number, { ms: number; errors: number }>();
  for (let i = 0; i < (opts.warmup ?? 3); i++) pass(images, warm);
  const acc = new Map<number, { ms: number; errors: number }>();
  let passes = 0;
  const t0 = performance.now();
  while (passes < (opts.maxPasses ?? 2000) && (passes < 3 || performance.now() - t0 < minMs)) {
    pass(images, acc);
    passes++;
  }
  const out: CodecResult[] = [];
  for (const [type, a] of acc) {
    const mine = images.filter((i) => i.type === type);
    const pixels = mine.reduce((n, i) => n + i.width * i.height, 0);
    const bytes = mine.reduce((n, i) => n + i.bytes, 0);
    out.push({
      codec: imageTypeName(type), type, images: mine.length, pixels, bytes, passes, ms: a.ms,
      mpps: (pixels * passes) / 1e6 / (a.ms / 1000),
      inMBps: (bytes * passes) / 1e6 / (a.ms / 1000),
      errors: Math.round(a.errors / passes),
    });
  }
  return out.sort((a, b) => a.type - b.type);
}

// ---------------------------------------------------------------------------------------------
// Native references where the same algorithm exists natively in this process.

interface Lz4Prepared {
  blocks: { input: Buffer; size: number; start: number; end: number }[];
  data: Buffer;
  total: number;
  pixels: number;
  reference: Buffer;
}

/** Splits SPICE LZ4 images into blocks with their decoded sizes (found by our own decoder). */
function prepareLz4(images: BenchImage[]): Lz4Prepared[] {
  const out: Lz4Prepared[] = [];
  for (const img of images.filter((i) => i.type === ImageType.LZ4)) {
    const at = img.offset + IMAGE_DESCRIPTOR_SIZE;
    const size = img.body.readUInt32LE(at);
    const data = img.body.subarray(at + 4, at + 4 + size);
    // Output size upper bound: width*height*4 is enough for every LZ4 bitmap format.
    const outBuf = Buffer.alloc(img.width * img.height * 4);
    let ip = 2;
    let op = 0;
    const blocks: Lz4Prepared['blocks'] = [];
    while (ip + 4 <= data.length) {
      const len = data.readUInt32BE(ip);
      ip += 4;
      const end = ip + len;
      const nop = lz4DecodeBlock(data, ip, end, outBuf, op);
      const input = Buffer.alloc(4 + len);
      input.writeUInt32LE(nop - op, 0);
      data.copy(input, 4, ip, end);
      blocks.push({ input, size: nop - op, start: ip, end });
      op = nop;
      ip = end;
    }
    out.push({ blocks, data, total: op, pixels: img.width * img.height, reference: outBuf.subarray(0, op) });
  }
  return out;
}

function nativeLz4Once(p: Lz4Prepared): Buffer {
  const out = Buffer.allocUnsafe(p.total);
  let op = 0;
  for (const b of p.blocks) {
    const dec = op === 0 ? uncompressSync(b.input) : uncompressSync(b.input, out.subarray(Math.max(0, op - 65536), op));
    dec.copy(out, op);
    op += b.size;
  }
  return out;
}

/** spicectl's own LZ4 block decoder alone (no pixel conversion), for the same blocks. */
function jsLz4Once(p: Lz4Prepared): void {
  const out = Buffer.allocUnsafe(p.total);
  let op = 0;
  for (const b of p.blocks) op = lz4DecodeBlock(p.data, b.start, b.end, out, op);
}

function timeLoop(fn: () => void, minMs: number): { passes: number; ms: number } {
  for (let i = 0; i < 3; i++) fn();
  let passes = 0;
  let ms = 0;
  while (passes < 3 || ms < minMs) {
    const t0 = performance.now();
    fn();
    ms += performance.now() - t0;
    passes++;
  }
  return { passes, ms };
}

export interface NativeReference { name: string; mpps: number; note: string; blocks?: number; meanBlockBytes?: number; jsBlocksMpps?: number }

/**
 * LZ4: the same blocks through lz4-napi (lz4_flex, native) with the previous 64 KiB as the
 * dictionary, decompression only (spicectl's time also includes the pixel-format conversion).
 * Returns null when there are no LZ4 images or the native output differs (then it is no reference).
 */
export function nativeLz4(images: BenchImage[], minMs = 300): NativeReference | null {
  const prepared = prepareLz4(images);
  if (!prepared.length) return null;
  for (const p of prepared) if (!nativeLz4Once(p).equals(p.reference)) return null;
  const { passes, ms } = timeLoop(() => { for (const p of prepared) nativeLz4Once(p); }, minMs);
  const js = timeLoop(() => { for (const p of prepared) jsLz4Once(p); }, minMs);
  const pixels = prepared.reduce((n, p) => n + p.pixels, 0);
  const blocks = prepared.reduce((n, p) => n + p.blocks.length, 0);
  const blockBytes = prepared.reduce((n, p) => n + p.blocks.reduce((m, b) => m + b.size, 0), 0);
  return {
    name: 'lz4-napi uncompressSync (native lz4_flex), same blocks',
    mpps: (pixels * passes) / 1e6 / (ms / 1000),
    note: 'decompression only, one native call per block',
    blocks,
    meanBlockBytes: blockBytes / blocks,
    jsBlocksMpps: (pixels * js.passes) / 1e6 / (js.ms / 1000),
  };
}

/** BITMAP: the physical limit is a copy of the same bytes (memcpy). */
export function nativeBitmapCopy(images: BenchImage[], minMs = 200): NativeReference | null {
  const bm = images.filter((i) => i.type === ImageType.BITMAP);
  if (!bm.length) return null;
  const srcs = bm.map((i) => i.body.subarray(i.offset + IMAGE_DESCRIPTOR_SIZE));
  const dsts = srcs.map((s) => Buffer.allocUnsafe(s.length));
  const { passes, ms } = timeLoop(() => { for (let i = 0; i < srcs.length; i++) srcs[i]!.copy(dsts[i]!); }, minMs);
  const pixels = bm.reduce((n, i) => n + i.width * i.height, 0);
  return { name: 'Buffer.copy of the bitmap bytes (memcpy)', mpps: (pixels * passes) / 1e6 / (ms / 1000), note: 'physical limit' };
}
