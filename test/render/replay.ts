// Replays a recorded display channel stream ({u16 type, u32 size, body} per message, as written
// by test/tools/capture-display.ts and test/fixtures/display/record.ts) onto Surfaces, with the
// image decoders and caches of src/render. A test helper, not a test file: it handles the draw
// operations an Xspice server sends and counts (never guesses at) anything else.

import { decodeImage, ImageStore, parseImageDescriptor } from '../../src/render/image.js';
import { Surface } from '../../src/render/surface.js';
import { imageTypeName, type DecodedImage } from '../../src/render/types.js';
import { MsgDisplay } from '../../src/session/wire/enums.js';
import {
  SURFACE_FLAG_PRIMARY, parseCopyBits, parseDrawAlphaBlend, parseDrawCopy, parseDrawFill, parseDrawOpaque,
  parseDrawSolid, parseDrawTransparent, parseInvalList, parseInvalPalette, parseSurfaceCreate, parseSurfaceDestroy,
  type DrawOp,
} from '../../src/session/wire/messages/display.js';

import type { RecordedMessage } from '../tools/recording.js';
export { readRecording, writeRecording, type RecordedMessage } from '../tools/recording.js';

export interface ImageEvent { type: number; image: DecodedImage; ms: number; bytes: number }

export interface ReplayResult {
  surfaces: Map<number, Surface>;
  primary: Surface | undefined;
  store: ImageStore;
  /** Images decoded, by type name ("QUIC (1)"). */
  imageTypes: Record<string, number>;
  /** Messages seen, by MsgDisplay name. */
  ops: Record<string, number>;
  /** Things not rendered (pattern brushes, masks, unknown messages). */
  skipped: Record<string, number>;
}

const NAMES: Record<number, string> = Object.fromEntries(Object.entries(MsgDisplay).map(([k, v]) => [v, k]));

/** The offset of the source image of a draw message, or undefined. */
export function drawImageOffset(type: number, body: Buffer): number | undefined {
  switch (type) {
    case MsgDisplay.drawCopy:
    case MsgDisplay.drawBlend: return (parseDrawCopy(body, 'copy') as { src: number }).src;
    case MsgDisplay.drawOpaque: return (parseDrawOpaque(body) as { src: number }).src;
    case MsgDisplay.drawTransparent: return (parseDrawTransparent(body) as { src: number }).src;
    case MsgDisplay.drawAlphaBlend: return (parseDrawAlphaBlend(body) as { src: number }).src;
    default: return undefined;
  }
}

/** Replays msgs; decoder errors propagate (a fixture must decode completely). */
export function replay(msgs: RecordedMessage[], opts: { store?: ImageStore; onImage?: (e: ImageEvent) => void } = {}): ReplayResult {
  const surfaces = new Map<number, Surface>();
  const store = opts.store ?? new ImageStore();
  const res: ReplayResult = { surfaces, primary: undefined, store, imageTypes: {}, ops: {}, skipped: {} };
  const count = (rec: Record<string, number>, k: string): void => { rec[k] = (rec[k] ?? 0) + 1; };
  const image = (body: Buffer, offset: number): DecodedImage => {
    const d = parseImageDescriptor(body, offset);
    const t0 = performance.now();
    const img = decodeImage(body, offset, store, (id) => surfaces.get(id));
    const ms = performance.now() - t0;
    count(res.imageTypes, imageTypeName(d.type));
    opts.onImage?.({ type: d.type, image: img, ms, bytes: body.length - offset });
    return img;
  };
  const draw = (op: DrawOp, body: Buffer): void => {
    const s = surfaces.get(op.base.surfaceId);
    if (!s) throw new Error(`draw on missing surface ${op.base.surfaceId}`);
    const { box, clip } = op.base;
    if ('mask' in op && op.mask.bitmap !== 0) count(res.skipped, 'mask');
    switch (op.op) {
      case 'fill':
        if (op.brush.kind === 'solid') s.fill(box, clip, op.brush.color, op.rop);
        else count(res.skipped, `fill ${op.brush.kind}`);
        break;
      case 'copy':
      case 'blend':
      case 'opaque':
        s.drawImage(image(body, op.src), op.srcArea, box, clip, op.rop, op.scaleMode);
        break;
      case 'blackness': s.fill(box, clip, 0, 128); break;
      case 'whiteness': s.fill(box, clip, 0xffffff, 256); break;
      case 'invers': s.fill(box, clip, 0, 512); break;
      case 'transparent': s.transparent(image(body, op.src), op.srcArea, box, clip, op.srcColor); break;
      case 'alphaBlend': s.alphaBlend(image(body, op.src), op.srcArea, box, clip, op.alpha, op.alphaFlags); break;
      case 'copyBits': s.copyBits(op.srcPos.x, op.srcPos.y, box, clip); break;
      default: count(res.skipped, op.op);
    }
  };
  for (const { type, body } of msgs) {
    count(res.ops, NAMES[type] ?? `type${type}`);
    switch (type) {
      case MsgDisplay.surfaceCreate: {
        const m = parseSurfaceCreate(body);
        const s = new Surface(m.surfaceId, m.width, m.height, m.format);
        surfaces.set(m.surfaceId, s);
        if (m.flags & SURFACE_FLAG_PRIMARY) res.primary = s;
        break;
      }
      case MsgDisplay.surfaceDestroy: surfaces.delete(parseSurfaceDestroy(body)); break;
      case MsgDisplay.invalList: store.invalidate(parseInvalList(body)); break;
      case MsgDisplay.invalAllPixmaps: store.invalidateAll(); break;
      case MsgDisplay.invalPalette: store.invalidatePalette(parseInvalPalette(body)); break;
      case MsgDisplay.invalAllPalettes:
      case MsgDisplay.reset: store.invalidateAllPalettes(); break;
      case MsgDisplay.drawFill: draw(parseDrawFill(body), body); break;
      case MsgDisplay.drawCopy: draw(parseDrawCopy(body, 'copy'), body); break;
      case MsgDisplay.drawBlend: draw(parseDrawCopy(body, 'blend'), body); break;
      case MsgDisplay.drawOpaque: draw(parseDrawOpaque(body), body); break;
      case MsgDisplay.drawBlackness: draw(parseDrawSolid(body, 'blackness'), body); break;
      case MsgDisplay.drawWhiteness: draw(parseDrawSolid(body, 'whiteness'), body); break;
      case MsgDisplay.drawInvers: draw(parseDrawSolid(body, 'invers'), body); break;
      case MsgDisplay.drawTransparent: draw(parseDrawTransparent(body), body); break;
      case MsgDisplay.drawAlphaBlend: draw(parseDrawAlphaBlend(body), body); break;
      case MsgDisplay.copyBits: draw(parseCopyBits(body), body); break;
      case MsgDisplay.mark:
      case MsgDisplay.monitorsConfig:
        break;
      default:
        // Base-channel messages (SET_ACK 3, PING 4, ...) carry no drawing.
        if (type >= 100) count(res.skipped, NAMES[type] ?? `type${type}`);
    }
  }
  return res;
}
