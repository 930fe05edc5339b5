import { ProtocolError } from '../../util/errors.js';
import { decodeImage, ImageStore } from '../../render/image.js';
import { Surface } from '../../render/surface.js';
import { capsWords } from '../wire/caps.js';
import { ChannelType, DisplayCap, ImageCompression, MsgDisplay, MsgcDisplay } from '../wire/enums.js';
import { hasCap } from '../wire/caps.js';
import {
  SURFACE_FLAG_PRIMARY, encodeDisplayInit, encodePreferredCompression, parseCopyBits, parseDrawAlphaBlend, parseDrawCopy,
  parseDrawFill, parseDrawOpaque, parseDrawSolid, parseDrawTransparent, parseInvalAllPixmaps, parseInvalList,
  parseInvalPalette, parseMonitorsConfig, parseSurfaceCreate, parseSurfaceDestroy, type DrawOp, type MonitorHead,
} from '../wire/messages/display.js';
import { Channel, type ChannelHost } from './channel.js';

export const IMAGE_TYPE_NAMES: Record<number, string> = {
  0: 'bitmap', 1: 'quic', 100: 'lz_plt', 101: 'lz_rgb', 102: 'glz_rgb', 103: 'from_cache', 104: 'surface',
  105: 'jpeg', 106: 'from_cache_lossless', 107: 'zlib_glz_rgb', 108: 'jpeg_alpha', 109: 'lz4',
};

// ROP descriptor values for the solid ops.
const ROPD_OP_BLACKNESS = 128;
const ROPD_OP_WHITENESS = 256;
const ROPD_OP_INVERS = 512;

/** spice-gtk's pixmap cache: 80 MiB of 32-bit pixels. */
const PIXMAP_CACHE_PIXELS = 20_971_520n;

export interface DisplayOptions {
  /** PREFERRED_COMPRESSION sent after INIT (an ImageCompression value), or null to keep the server's choice. */
  preferredCompression: number | null;
  /** GLZ dictionary window in pixels advertised in DISPLAY_INIT; 0 disables GLZ. */
  glzWindow?: number;
  /** false: record and count messages without drawing (capture tools). */
  draw?: boolean;
}

/**
 * The display channel: surfaces, draw operations and the image cache.
 * Emits 'mark' when the server's first complete frame has been drawn, 'draw' after each
 * drawing message, 'surface' when the primary surface is (re)created.
 */
export class DisplayChannel extends Channel {
  readonly surfaces = new Map<number, Surface>();
  readonly images = new ImageStore();
  readonly imageTypes: Record<string, number> = {};
  readonly unsupported: Record<string, number> = {};
  monitors: MonitorHead[] = [];
  marked = false;
  markAtMs: number | null = null;
  lastDrawAtMs = 0;
  draws = 0;

  constructor(host: ChannelHost, id: number, private readonly opts: DisplayOptions = { preferredCompression: ImageCompression.lz4 }, t0?: number) {
    super(host, ChannelType.display, id, t0);
  }

  channelCaps(): number[] {
    // MULTI_CODEC with no codec bits: the server must not start video streams we cannot decode.
    return capsWords([DisplayCap.monitorsConfig, DisplayCap.lz4Compression, DisplayCap.multiCodec]);
  }

  protected override onReady(): void {
    // GLZ window 0: the server never sends GLZ until the GLZ decoder lands.
    this.send(MsgcDisplay.init, encodeDisplayInit(1, PIXMAP_CACHE_PIXELS, 1, this.opts.glzWindow ?? 0));
    if (this.opts.preferredCompression !== null && hasCap(this.serverChannelCaps, DisplayCap.prefCompression)) {
      this.send(MsgcDisplay.preferredCompression, encodePreferredCompression(this.opts.preferredCompression));
    }
  }

  primaryId: number | null = null;

  get primary(): Surface | undefined {
    return this.surfaces.get(this.primaryId ?? 0);
  }

  protected onMessage(type: number, body: Buffer): void {
    if (this.opts.draw === false && type !== MsgDisplay.mark) return;
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
      case MsgDisplay.monitorsConfig:
        this.monitors = parseMonitorsConfig(body).heads;
        return;
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
      default: {
        const name = Object.entries(MsgDisplay).find(([, v]) => v === type)?.[0] ?? `type${type}`;
        this.unsupported[name] = (this.unsupported[name] ?? 0) + 1;
        if (this.unsupported[name] === 1) this.host.log.warn({ channel: this.name, message: name }, 'display: message not handled yet');
      }
    }
  }

  private image(body: Buffer, offset: number) {
    if (offset + 9 <= body.length) {
      const t = IMAGE_TYPE_NAMES[body[offset + 8]!] ?? `type${body[offset + 8]}`;
      this.imageTypes[t] = (this.imageTypes[t] ?? 0) + 1;
    }
    return decodeImage(body, offset, this.images, (id: number) => this.surfaces.get(id));
  }

  private draw(op: DrawOp, body: Buffer): void {
    const s = this.surfaces.get(op.base.surfaceId);
    if (!s) throw new ProtocolError(`display: draw on surface ${op.base.surfaceId}, which does not exist`);
    const { box, clip } = op.base;
    switch (op.op) {
      case 'fill':
        if (op.brush.kind === 'solid') s.fill(box, clip, op.brush.color, op.rop);
        else this.note(`fill with ${op.brush.kind} brush`);
        break;
      case 'copy':
      case 'blend':
        s.drawImage(this.image(body, op.src), op.srcArea, box, clip, op.rop, op.scaleMode);
        break;
      case 'opaque':
        s.drawImage(this.image(body, op.src), op.srcArea, box, clip, op.rop, op.scaleMode);
        break;
      case 'blackness':
        s.fill(box, clip, 0, ROPD_OP_BLACKNESS);
        break;
      case 'whiteness':
        s.fill(box, clip, 0xffffff, ROPD_OP_WHITENESS);
        break;
      case 'invers':
        s.fill(box, clip, 0, ROPD_OP_INVERS);
        break;
      case 'transparent':
        s.transparent(this.image(body, op.src), op.srcArea, box, clip, op.srcColor);
        break;
      case 'alphaBlend':
        s.alphaBlend(this.image(body, op.src), op.srcArea, box, clip, op.alpha, op.alphaFlags);
        break;
      case 'copyBits':
        s.copyBits(op.srcPos.x, op.srcPos.y, box, clip);
        break;
    }
    if ('mask' in op && op.mask.bitmap !== 0) this.note('draw with a mask');
    this.draws++;
    this.lastDrawAtMs = performance.now() - this.t0;
    this.emit('draw', op.base.surfaceId);
  }

  private note(what: string): void {
    this.unsupported[what] = (this.unsupported[what] ?? 0) + 1;
    if (this.unsupported[what] === 1) this.host.log.warn({ channel: this.name, what }, 'display: drawn approximately');
  }
}
