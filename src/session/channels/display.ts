import { ProtocolError } from '../../util/errors.js';
import { decodeImage, ImageStore } from '../../render/image.js';
import { Surface, type MaskSpec, type SurfaceBrush } from '../../render/surface.js';
import { strokePath } from '../../render/stroke.js';
import { renderGlyphs } from '../../render/text.js';
import { compositeSupported, drawComposite } from '../../render/composite.js';
import { decodeMjpegFrame, StreamTable, unsupportedStreamReport, type StreamReportOut, type StreamState } from '../../render/streams.js';
import { ImageType, Ropd, type DecodedImage, type Rect } from '../../render/types.js';
import { intersect } from '../../render/geometry.js';
import { capsWords, hasCap } from '../wire/caps.js';
import { ChannelType, DisplayCap, ImageCompression, MsgDisplay, MsgcDisplay } from '../wire/enums.js';
import {
  SURFACE_FLAG_PRIMARY, STREAM_FLAG_TOP_DOWN, VideoCodec, encodeDisplayInit, encodePreferredCompression,
  encodePreferredVideoCodecs, encodeStreamReport, parseCopyBits, parseDrawAlphaBlend, parseDrawComposite,
  parseDrawCopy, parseDrawFill, parseDrawOpaque, parseDrawRop3, parseDrawSolid, parseDrawStroke, parseDrawText,
  parseDrawTransparent, parseInvalAllPixmaps, parseInvalList, parseInvalPalette, parseMaskImage,
  parseMonitorsConfig, parseStreamActivateReport, parseStreamClip, parseStreamCreate, parseStreamData,
  parseStreamDataSized, parseStreamId, parseSurfaceCreate, parseSurfaceDestroy, type Brush, type DrawOp, type MonitorHead, type QMask,
  type StreamFrame,
} from '../wire/messages/display.js';
import { Channel, type ChannelHost } from './channel.js';

export const IMAGE_TYPE_NAMES: Record<number, string> = {
  0: 'bitmap', 1: 'quic', 100: 'lz_plt', 101: 'lz_rgb', 102: 'glz_rgb', 103: 'from_cache', 104: 'surface',
  105: 'jpeg', 106: 'from_cache_lossless', 107: 'zlib_glz_rgb', 108: 'jpeg_alpha', 109: 'lz4',
};

const OP_NAMES: Record<number, string> = Object.fromEntries(Object.entries(MsgDisplay).map(([k, v]) => [v, k]));

/** spice-gtk's pixmap cache: 80 MiB of 32-bit pixels. */
const PIXMAP_CACHE_PIXELS = 20_971_520n;

export interface DisplayOptions {
  /** PREFERRED_COMPRESSION sent after INIT (an ImageCompression value), or null to keep the server's choice. */
  preferredCompression: number | null;
  /** GLZ dictionary window in pixels advertised in DISPLAY_INIT; 0 disables GLZ. */
  glzWindow?: number;
  /** false: record and count messages without drawing (capture tools). */
  draw?: boolean;
  /** Video codecs to advertise and prefer, in order (default [MJPEG]); [] = no video streams. */
  videoCodecs?: number[];
  /** Advertise COMPOSITE (QXL guest drivers then send DRAW_COMPOSITE). Default false. */
  composite?: boolean;
  /** The session's multimedia clock (server mm time now), for stream reports; estimated when absent. */
  mmTime?: () => number | undefined;
  /** Image caches to use (to share a GLZ window between display channels). */
  images?: ImageStore;
  /** Rethrow drawing errors (bad images, unsupported ops) instead of counting them. Tests use it. */
  strict?: boolean;
}

export interface StreamStats { created: number; refused: number; frames: number; drops: number; reports: number; active: number }

/**
 * The display channel: surfaces, draw operations, video streams and the image cache.
 * Emits 'mark' when the server's first complete frame has been drawn, 'draw' (surface id) after
 * each drawing message or stream frame, 'surface' when the primary surface is (re)created,
 * 'monitors' on MONITORS_CONFIG.
 *
 * Malformed messages fail the channel (ProtocolError from the parsers). Operations we cannot
 * render exactly or at all (an unknown message, an image type not decoded, a composite mode we
 * do not implement) are counted in `unsupported`, logged once each, and skipped.
 */
export class DisplayChannel extends Channel {
  readonly surfaces = new Map<number, Surface>();
  readonly images: ImageStore;
  readonly imageTypes: Record<string, number> = {};
  /** Count of every draw operation / message type seen, by name. */
  readonly ops: Record<string, number> = {};
  readonly unsupported: Record<string, number> = {};
  readonly streams = new StreamTable();
  readonly streamStats: StreamStats = { created: 0, refused: 0, frames: 0, drops: 0, reports: 0, active: 0 };
  monitors: MonitorHead[] = [];
  monitorsMax = 0;
  marked = false;
  markAtMs: number | null = null;
  lastDrawAtMs = 0;
  draws = 0;
  primaryId: number | null = null;
  /** local ms -> server mm time offset, learnt from the first stream frame when no mm clock is given */
  private mmOffset: number | null = null;

  constructor(host: ChannelHost, id: number, private readonly opts: DisplayOptions = { preferredCompression: ImageCompression.lz4 }, t0?: number) {
    super(host, ChannelType.display, id, t0);
    this.images = opts.images ?? new ImageStore();
  }

  private get codecs(): number[] {
    return (this.opts.videoCodecs ?? [VideoCodec.MJPEG]).filter((c) => c === VideoCodec.MJPEG);
  }

  channelCaps(): number[] {
    const caps: number[] = [DisplayCap.monitorsConfig, DisplayCap.lz4Compression, DisplayCap.multiCodec];
    // MULTI_CODEC with only the codecs we decode: the server never starts VP8/H264 streams.
    if (this.codecs.length) caps.push(DisplayCap.sizedStream, DisplayCap.streamReport, DisplayCap.codecMjpeg);
    if (this.opts.composite) caps.push(DisplayCap.composite);
    return capsWords(caps);
  }

  protected override onReady(): void {
    this.send(MsgcDisplay.init, encodeDisplayInit(1, PIXMAP_CACHE_PIXELS, 1, this.opts.glzWindow ?? 0));
    if (this.opts.preferredCompression !== null && hasCap(this.serverChannelCaps, DisplayCap.prefCompression)) {
      this.send(MsgcDisplay.preferredCompression, encodePreferredCompression(this.opts.preferredCompression));
    }
    // Only on request: libspice-server 0.15.1 (Xspice) crashes when this arrives while a video
    // stream is already playing, and MJPEG is the server's first choice anyway.
    if (this.opts.videoCodecs && this.codecs.length && hasCap(this.serverChannelCaps, DisplayCap.prefVideoCodecType)) {
      this.send(MsgcDisplay.preferredVideoCodecType, encodePreferredVideoCodecs(this.codecs));
    }
  }

  get primary(): Surface | undefined {
    return this.surfaces.get(this.primaryId ?? 0);
  }

  protected onMessage(type: number, body: Buffer): void {
    if (this.opts.draw === false && type !== MsgDisplay.mark) return;
    const name = OP_NAMES[type] ?? `type${type}`;
    this.ops[name] = (this.ops[name] ?? 0) + 1;
    switch (type) {
      case MsgDisplay.surfaceCreate: {
        const m = parseSurfaceCreate(body);
        const s = new Surface(m.surfaceId, m.width, m.height, m.format);
        this.surfaces.set(m.surfaceId, s);
        if (m.flags & SURFACE_FLAG_PRIMARY) {
          this.primaryId = m.surfaceId;
          this.emit('surface', s);
        }
        return;
      }
      case MsgDisplay.surfaceDestroy:
        this.surfaces.delete(parseSurfaceDestroy(body));
        return;
      case MsgDisplay.mark:
        if (!this.marked) {
          this.marked = true;
          this.markAtMs = performance.now() - this.t0;
        }
        this.emit('mark');
        return;
      case MsgDisplay.reset:
        this.images.invalidateAllPalettes();
        this.marked = false;
        return;
      case MsgDisplay.invalList:
        this.images.invalidate(parseInvalList(body));
        return;
      case MsgDisplay.invalAllPixmaps:
        parseInvalAllPixmaps(body);
        this.images.invalidateAll();
        return;
      case MsgDisplay.invalPalette:
        this.images.invalidatePalette(parseInvalPalette(body));
        return;
      case MsgDisplay.invalAllPalettes:
        this.images.invalidateAllPalettes();
        return;
      case MsgDisplay.monitorsConfig: {
        const m = parseMonitorsConfig(body);
        this.monitors = m.heads;
        this.monitorsMax = m.maxAllowed;
        this.emit('monitors', m.heads);
        return;
      }
      case MsgDisplay.drawFill: return this.draw(parseDrawFill(body), body);
      case MsgDisplay.drawCopy: return this.draw(parseDrawCopy(body, 'copy'), body);
      case MsgDisplay.drawBlend: return this.draw(parseDrawCopy(body, 'blend'), body);
      case MsgDisplay.drawOpaque: return this.draw(parseDrawOpaque(body), body);
      case MsgDisplay.drawBlackness: return this.draw(parseDrawSolid(body, 'blackness'), body);
      case MsgDisplay.drawWhiteness: return this.draw(parseDrawSolid(body, 'whiteness'), body);
      case MsgDisplay.drawInvers: return this.draw(parseDrawSolid(body, 'invers'), body);
      case MsgDisplay.drawTransparent: return this.draw(parseDrawTransparent(body), body);
      case MsgDisplay.drawAlphaBlend: return this.draw(parseDrawAlphaBlend(body), body);
      case MsgDisplay.copyBits: return this.draw(parseCopyBits(body), body);
      case MsgDisplay.drawRop3: return this.draw(parseDrawRop3(body), body);
      case MsgDisplay.drawStroke: return this.draw(parseDrawStroke(body), body);
      case MsgDisplay.drawText: return this.draw(parseDrawText(body), body);
      case MsgDisplay.drawComposite: return this.draw(parseDrawComposite(body), body);
      case MsgDisplay.streamCreate: return this.streamCreate(body);
      case MsgDisplay.streamData: return this.streamFrame(parseStreamData(body));
      case MsgDisplay.streamDataSized: return this.streamFrame(parseStreamDataSized(body));
      case MsgDisplay.streamClip: {
        const m = parseStreamClip(body);
        const st = this.streams.get(m.id);
        if (st) st.clip = m.clip;
        else this.reportMissingStream(m.id);
        return;
      }
      case MsgDisplay.streamDestroy: {
        this.streams.destroy(parseStreamId(body, 'STREAM_DESTROY'));
        this.streamStats.active = this.streams.streams.size;
        return;
      }
      case MsgDisplay.streamDestroyAll:
        this.streams.destroyAll();
        this.streamStats.active = 0;
        return;
      case MsgDisplay.streamActivateReport: {
        const m = parseStreamActivateReport(body);
        if (!this.streams.activateReport(m)) this.reportMissingStream(m.streamId);
        return;
      }
      default:
        this.note(`message ${name}`);
    }
  }

  // ------------------------------------------------------------------------------------------
  // drawing

  /** Images of the draw being processed, decoded up front (see draw()). */
  private decoded: Map<number, DecodedImage> | null = null;

  private image(body: Buffer, offset: number): DecodedImage {
    const hit = this.decoded?.get(offset);
    if (hit) return hit;
    if (offset === 0) throw new ProtocolError('display: a draw operation has a null image pointer');
    if (offset + 9 <= body.length) {
      const t = IMAGE_TYPE_NAMES[body[offset + 8]!] ?? `type${body[offset + 8]}`;
      this.imageTypes[t] = (this.imageTypes[t] ?? 0) + 1;
    }
    return decodeImage(body, offset, this.images, (id: number) => this.surfaces.get(id));
  }

  private brush(body: Buffer, b: Brush): SurfaceBrush {
    if (b.kind === 'pattern') return { kind: 'pattern', image: this.image(body, b.image), x: b.pos.x, y: b.pos.y };
    return b;
  }

  /** A QMask as pixels: BITMAP (1-bit, LE or BE bit order), FROM_CACHE(_LOSSLESS) or SURFACE. */
  private mask(body: Buffer, m: QMask): MaskSpec | null {
    if (m.bitmap === 0) return null;
    const invert = (m.flags & 1) !== 0;
    const img = parseMaskImage(body, m.bitmap);
    const d = img.descriptor;
    let width: number, height: number, bits: Uint8Array;
    switch (d.type) {
      case ImageType.BITMAP: {
        const bm = img.bitmap!;
        width = bm.width;
        height = bm.height;
        bits = new Uint8Array(width * height);
        const be = bm.format === 2;
        for (let y = 0; y < height; y++) {
          const row = (bm.topDown ? y : height - 1 - y) * bm.stride;
          for (let x = 0; x < width; x++) {
            const byte = bm.data[row + (x >> 3)]!;
            bits[y * width + x] = be ? (byte >> (7 - (x & 7))) & 1 : (byte >> (x & 7)) & 1;
          }
        }
        if (d.flags & 1) { // CACHE_ME: keep it as an image (set = white) for later FROM_CACHE masks
          const data = Buffer.alloc(width * height * 4);
          for (let i = 0; i < bits.length; i++) if (bits[i]) data.writeUInt32LE(0xffffffff, i * 4);
          this.images.putImage(d.id, { width, height, data, hasAlpha: true });
        }
        break;
      }
      case ImageType.FROM_CACHE:
      case ImageType.FROM_CACHE_LOSSLESS:
      case ImageType.SURFACE: {
        let src: DecodedImage | undefined;
        if (d.type === ImageType.SURFACE) src = this.surfaces.get(img.surfaceId!)?.asImage();
        else src = this.images.getImage(d.id);
        if (!src) throw new ProtocolError(`display: mask image ${d.type === ImageType.SURFACE ? `surface ${img.surfaceId}` : d.id} is unknown`);
        width = src.width;
        height = src.height;
        bits = new Uint8Array(width * height);
        for (let i = 0; i < bits.length; i++) {
          const o = i * 4;
          bits[i] = src.hasAlpha ? (src.data[o + 3] !== 0 ? 1 : 0) : (src.data[o]! | src.data[o + 1]! | src.data[o + 2]!) !== 0 ? 1 : 0;
        }
        break;
      }
      default:
        throw new ProtocolError(`display: mask image type ${d.type} is not a 1-bit bitmap`);
    }
    return { width, height, bits, x: m.pos.x, y: m.pos.y, invert };
  }

  private draw(op: DrawOp, body: Buffer): void {
    try {
      // Every image is decoded even when the draw is not rendered (missing surface, clipped,
      // unsupported mode): the server counts on CACHE_ME entries and GLZ window images existing.
      this.decoded = new Map();
      for (const p of imagePointers(op)) this.decoded.set(p, this.image(body, p));
      const s = this.surfaces.get(op.base.surfaceId);
      if (!s) this.note('draw on a missing surface');
      else this.render(s, op, body);
    } catch (e) {
      if (this.opts.strict || !(e instanceof ProtocolError)) throw e;
      this.note(`${op.op}: ${e.message}`, e.message.replace(/[0-9]+/g, 'N'));
    } finally {
      this.decoded = null;
    }
    this.draws++;
    this.lastDrawAtMs = performance.now() - this.t0;
    this.emit('draw', op.base.surfaceId);
  }

  private render(s: Surface, op: DrawOp, body: Buffer): void {
    const { box, clip } = op.base;
    switch (op.op) {
      case 'fill':
        s.fillBrush(box, clip, this.brush(body, op.brush), op.rop, this.mask(body, op.mask));
        return;
      case 'copy':
      case 'blend':
        s.drawImage(this.image(body, op.src), op.srcArea, box, clip, op.rop, op.scaleMode, this.mask(body, op.mask));
        return;
      case 'opaque':
        s.opaque(this.image(body, op.src), op.srcArea, box, clip, this.brush(body, op.brush), op.rop, op.scaleMode, this.mask(body, op.mask));
        return;
      case 'blackness':
        s.fill(box, clip, 0, Ropd.OP_BLACKNESS, this.mask(body, op.mask));
        return;
      case 'whiteness':
        s.fill(box, clip, 0xffffffff, Ropd.OP_WHITENESS, this.mask(body, op.mask));
        return;
      case 'invers':
        s.fill(box, clip, 0, Ropd.OP_INVERS, this.mask(body, op.mask));
        return;
      case 'transparent':
        s.transparent(this.image(body, op.src), op.srcArea, box, clip, op.srcColor);
        return;
      case 'alphaBlend':
        s.alphaBlend(this.image(body, op.src), op.srcArea, box, clip, op.alpha, op.alphaFlags);
        return;
      case 'copyBits':
        s.copyBits(op.srcPos.x, op.srcPos.y, box, clip);
        return;
      case 'rop3':
        s.rop3(this.image(body, op.src), op.srcArea, box, clip, this.brush(body, op.brush), op.rop3, op.scaleMode, this.mask(body, op.mask));
        return;
      case 'stroke': {
        const brush = this.brush(body, op.brush);
        const region = s.region(box, clip);
        if (region.length === 0) return;
        const r = strokePath(op.path, op.attr.flags, op.attr.style, s.width, s.height);
        if (r.approximate) this.note('stroke drawn approximately (styled, huge or malformed path)');
        for (const runs of r.segments) s.paintRects(clipRuns(runs, region), brush, op.foreMode);
        return;
      }
      case 'text': {
        const region = s.region(box, clip);
        const back = op.backArea;
        if (back.right > back.left && back.bottom > back.top) {
          // The reference draws nothing unless fore_mode is OP_PUT when there is a background.
          if (!(op.foreMode & Ropd.OP_PUT)) { this.note('text with a background and a fore_mode other than OP_PUT'); return; }
          s.paintRects(clipRuns(region, [back]), this.brush(body, op.backBrush), Ropd.OP_PUT);
        }
        const m = renderGlyphs(op.str.glyphs, op.str.bpp);
        if (m) s.overMask(region, this.brush(body, op.foreBrush), m);
        return;
      }
      case 'composite': {
        const why = compositeSupported(op.composite);
        if (why) { this.note(`composite: ${why}`); return; }
        const src = this.image(body, op.composite.src);
        const mask = op.composite.mask ? this.image(body, op.composite.mask) : null;
        drawComposite(s, box, clip, op.composite, src, mask);
        return;
      }
    }
  }

  // ------------------------------------------------------------------------------------------
  // video streams

  private streamCreate(body: Buffer): void {
    const m = parseStreamCreate(body);
    if (!this.codecs.includes(m.codec)) {
      // We did not advertise it; tell the server to fall back to plain images.
      this.streamStats.refused++;
      this.note(`video stream with codec ${m.codec} refused`);
      this.sendReport(unsupportedStreamReport(m.id));
      return;
    }
    this.streams.create(m);
    this.streamStats.created++;
    this.streamStats.active = this.streams.streams.size;
  }

  private streamFrame(f: StreamFrame): void {
    const st = this.streams.get(f.id);
    if (!st) {
      this.reportMissingStream(f.id);
      return;
    }
    const nowMs = performance.now();
    let dropped = false;
    try {
      this.showFrame(st, f);
      this.streamStats.frames++;
    } catch (e) {
      if (this.opts.strict || !(e instanceof ProtocolError)) throw e;
      dropped = true;
      this.streamStats.drops++;
      this.note(`stream frame: ${e.message}`, 'stream frame does not decode');
    }
    const report = this.streams.frameDone(st, f.mmTime, nowMs, this.frameDelay(f.mmTime, nowMs), dropped);
    if (report) this.sendReport(report);
    this.draws++;
    this.lastDrawAtMs = nowMs - this.t0;
    this.emit('draw', st.surfaceId);
  }

  private showFrame(st: StreamState, f: StreamFrame): void {
    const s = this.surfaces.get(st.surfaceId);
    if (!s) throw new ProtocolError(`stream ${st.id} draws on surface ${st.surfaceId}, which does not exist`);
    const img = decodeMjpegFrame(f.data, (st.flags & STREAM_FLAG_TOP_DOWN) !== 0, st.tables);
    const dest = f.dest ?? st.dest;
    s.drawImage(img, { top: 0, left: 0, bottom: img.height, right: img.width }, dest, st.clip, Ropd.OP_PUT);
  }

  /** frame mm time - client mm time: how early the frame came (negative: late). */
  private frameDelay(mmTime: number, nowMs: number): number {
    const clock = this.opts.mmTime?.();
    if (clock !== undefined) return (mmTime - clock) | 0;
    if (this.mmOffset === null) this.mmOffset = mmTime - nowMs;
    return (mmTime - (nowMs + this.mmOffset)) | 0;
  }

  private reportMissingStream(id: number): void {
    this.note('message for a stream that does not exist');
    this.sendReport(unsupportedStreamReport(id));
  }

  private sendReport(r: StreamReportOut): void {
    if (!hasCap(this.serverChannelCaps, DisplayCap.streamReport)) return;
    this.streamStats.reports++;
    this.send(MsgcDisplay.streamReport, encodeStreamReport(r));
  }

  /** Counts something we could not render (or only approximately) and logs each kind once. */
  private note(what: string, key = what): void {
    this.unsupported[key] = (this.unsupported[key] ?? 0) + 1;
    if (this.unsupported[key] === 1) this.host.log.warn({ channel: this.name, what }, 'display: not rendered exactly');
  }
}

/** Runs (disjoint) intersected with region rects (disjoint): disjoint results. */
function clipRuns(runs: Rect[], region: Rect[]): Rect[] {
  if (region.length === 0) return [];
  const out: Rect[] = [];
  for (const r of runs) {
    for (const c of region) {
      const i = intersect(r, c);
      if (i) out.push(i);
    }
  }
  return out;
}

/** Image pointers of a draw operation (sources, pattern brushes, composite src/mask; masks are parsed apart). */
function imagePointers(op: DrawOp): number[] {
  const out: number[] = [];
  if ('src' in op && op.src) out.push(op.src);
  for (const b of ['brush', 'foreBrush', 'backBrush'] as const) {
    const brush = (op as Partial<Record<typeof b, Brush>>)[b];
    if (brush?.kind === 'pattern' && brush.image) out.push(brush.image);
  }
  if (op.op === 'composite') {
    out.push(op.composite.src);
    if (op.composite.mask) out.push(op.composite.mask);
  }
  return out;
}
