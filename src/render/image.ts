// SpiceImage parsing and decoding, plus the client caches it feeds (digest §4.4-4.5).
//
// SpiceImage: descriptor (18 bytes) = u64 id, u8 type, u8 flags, u32 width, u32 height; then
//   BITMAP(0):   u8 format, u8 flags, u32 x, u32 y, u32 stride,
//                PAL_FROM_CACHE ? u64 palette_id : u32 ptr Palette (0 = none), stride*y bytes
//   LZ_PLT(100): u8 flags, u32 data_size, PAL_FROM_CACHE ? u64 palette_id : u32 ptr Palette, data
//   LZ_RGB(101), LZ4(109), QUIC(1), GLZ_RGB(102), JPEG(105): u32 data_size, data
//   ZLIB_GLZ_RGB(107): u32 glz_data_size (inflated), u32 data_size, data (zlib stream of a GLZ image)
//   JPEG_ALPHA(108): u8 flags (TOP_DOWN=1), u32 jpeg_size, u32 data_size, data (JPEG + LZ XXXA alpha)
//   FROM_CACHE(103), FROM_CACHE_LOSSLESS(106): nothing (use cache entry `id`)
//   SURFACE(104): u32 surface_id
// Palette (at a ptr = u32 offset from the start of the message body): u64 unique, u16 n, u32 ents[n].

import { ProtocolError } from '../util/errors.js';
import { Reader } from '../session/wire/reader.js';
import { decodeBitmap, bitmapHasPalette } from './codecs/bitmap.js';
import { decodeLz, isLzPaletteType, parseLzHeader, type LzHeader } from './codecs/lz.js';
import { decodeLz4Image } from './codecs/lz4-image.js';
import { decodeQuic, parseQuicHeader } from './codecs/quic.js';
import { decodeGlz, decodeZlibGlz } from './codecs/glz.js';
import { decodeJpeg, decodeJpegAlpha } from './codecs/jpeg.js';
import { GlzWindow } from './glz-window.js';
import { setOpaque } from './pixels.js';
import type { Surface } from './surface.js';
import {
  BitmapFlags, checkImageSize, ImageFlags, ImageType, imageTypeName, type DecodedImage, type Palette,
} from './types.js';

export const IMAGE_DESCRIPTOR_SIZE = 18;

export interface ImageDescriptor { id: bigint; type: number; flags: number; width: number; height: number }

interface CacheEntry { image: DecodedImage; lossy: boolean }

/**
 * The pixmap cache (images flagged CACHE_ME, keyed by their 64-bit id), the palette cache and
 * the GLZ dictionary window. The server mirrors the pixmap cache's accounting, so it never evicts
 * on its own: entries go only on invalidate()/invalidateAll() (INVAL_LIST / INVAL_ALL_PIXMAPS).
 * Lossy entries (JPEG, JPEG_ALPHA) are marked so: FROM_CACHE_LOSSLESS refuses them, and a
 * CACHE_REPLACE_ME image replaces them. The GLZ window (`glz`) is separate from the pixmap cache:
 * every GLZ image joins it, and only GLZ headers release images from it.
 */
export class ImageStore {
  private readonly images = new Map<bigint, CacheEntry>();
  private readonly palettes = new Map<bigint, Palette>();
  private pixelCount = 0;

  /**
   * maxPixels: refuse (ProtocolError) to hold more than this many pixels; default unlimited.
   * glz: the GLZ window (one per session and glz_dictionary_id; share it between display channels).
   */
  constructor(readonly maxPixels = Number.POSITIVE_INFINITY, readonly glz: GlzWindow = new GlzWindow()) {}

  /** Pixels currently cached (sum of width*height), as the server counts them. */
  get pixels(): number { return this.pixelCount; }
  get imageCount(): number { return this.images.size; }
  get paletteCount(): number { return this.palettes.size; }

  hasImage(id: bigint): boolean { return this.images.has(id); }

  getImage(id: bigint): DecodedImage | undefined { return this.images.get(id)?.image; }

  /** True when the entry exists and is lossy (e.g. JPEG); FROM_CACHE_LOSSLESS refuses those. */
  isLossy(id: bigint): boolean { return this.images.get(id)?.lossy ?? false; }

  putImage(id: bigint, image: DecodedImage, lossy = false): void {
    const old = this.images.get(id);
    const add = image.width * image.height - (old ? old.image.width * old.image.height : 0);
    if (this.pixelCount + add > this.maxPixels) {
      throw new ProtocolError(`pixmap cache overflow: image ${id} would take it past ${this.maxPixels} pixels`);
    }
    this.images.set(id, { image, lossy });
    this.pixelCount += add;
  }

  invalidate(ids: Iterable<bigint>): void {
    for (const id of ids) {
      const e = this.images.get(id);
      if (!e) continue;
      this.pixelCount -= e.image.width * e.image.height;
      this.images.delete(id);
    }
  }

  invalidateAll(): void {
    this.images.clear();
    this.pixelCount = 0;
  }

  getPalette(id: bigint): Palette | undefined { return this.palettes.get(id); }
  putPalette(p: Palette): void { this.palettes.set(p.unique, p); }
  invalidatePalette(id: bigint): void { this.palettes.delete(id); }
  invalidateAllPalettes(): void { this.palettes.clear(); }
}

export function parseImageDescriptor(body: Buffer, offset: number): ImageDescriptor {
  const r = new Reader(body, offset, 'image');
  r.need(IMAGE_DESCRIPTOR_SIZE, 'image descriptor');
  return {
    id: r.u64('image id'), type: r.u8('image type'), flags: r.u8('image flags'),
    width: r.u32('image width'), height: r.u32('image height'),
  };
}

/** Reads a Palette at a pointer (offset from the start of body). */
export function parsePalette(body: Buffer, ptr: number): Palette {
  const r = new Reader(body, 0, 'palette').at(ptr, 'palette');
  const unique = r.u64('palette unique');
  const n = r.u16('palette num_ents');
  const raw = r.bytes(n * 4, 'palette entries');
  const ents = new Uint32Array(n);
  for (let i = 0; i < n; i++) ents[i] = raw.readUInt32LE(i * 4);
  return { unique, ents };
}

/** The palette field of BITMAP / LZ_PLT: a cached id or a pointer, honouring PAL_* flags. */
function readPalette(r: Reader, body: Buffer, flags: number, store: ImageStore, required: boolean): Uint32Array | null {
  if (flags & BitmapFlags.PAL_FROM_CACHE) {
    const id = r.u64('palette id');
    const p = store.getPalette(id);
    if (!p) throw new ProtocolError(`palette ${id} is not in the palette cache`);
    return p.ents;
  }
  const ptr = r.u32('palette pointer');
  if (ptr === 0) {
    if (required) throw new ProtocolError('palette image has a null palette pointer');
    return null;
  }
  const p = parsePalette(body, ptr);
  if (flags & BitmapFlags.PAL_CACHE_ME) store.putPalette(p);
  return p.ents;
}

function checkSize(img: DecodedImage, d: ImageDescriptor): void {
  if (img.width !== d.width || img.height !== d.height) {
    throw new ProtocolError(
      `image ${d.id} (${imageTypeName(d.type)}) decoded to ${img.width}x${img.height}, descriptor says ${d.width}x${d.height}`,
    );
  }
}

function checkLzSize(h: LzHeader, d: ImageDescriptor): void {
  if (h.width !== d.width || h.height !== d.height) {
    throw new ProtocolError(`image ${d.id}: LZ stream is ${h.width}x${h.height}, descriptor says ${d.width}x${d.height}`);
  }
}

/**
 * Parses and decodes the SpiceImage at body[offset] (body = the whole message body, since
 * palette pointers are offsets from its start). Stores CACHE_ME images and PAL_CACHE_ME palettes
 * in `store`, serves FROM_CACHE(_LOSSLESS) from it and SURFACE images from `surfaces`
 * (returned as a view sharing that surface's pixels). GLZ_RGB / ZLIB_GLZ_RGB images resolve
 * references through, and are added to, store.glz (so they must be decoded even when not drawn).
 * JPEG / JPEG_ALPHA images are cached as lossy. Throws ProtocolError for malformed data.
 */
export function decodeImage(
  body: Buffer, offset: number, store: ImageStore, surfaces: (id: number) => Surface | undefined,
): DecodedImage {
  const d = parseImageDescriptor(body, offset);
  const r = new Reader(body, offset + IMAGE_DESCRIPTOR_SIZE, 'image');
  let img: DecodedImage;
  let lossy = false;
  const expect = { width: d.width, height: d.height };
  switch (d.type) {
    case ImageType.FROM_CACHE:
    case ImageType.FROM_CACHE_LOSSLESS: {
      const cached = store.getImage(d.id);
      if (!cached) throw new ProtocolError(`image ${d.id} is not in the pixmap cache`);
      if (d.type === ImageType.FROM_CACHE_LOSSLESS && store.isLossy(d.id)) {
        throw new ProtocolError(`image ${d.id} is cached only in a lossy version`);
      }
      checkSize(cached, d);
      return cached;
    }
    case ImageType.SURFACE: {
      const id = r.u32('surface id');
      const s = surfaces(id);
      if (!s) throw new ProtocolError(`image refers to surface ${id}, which does not exist`);
      return s.asImage();
    }
    case ImageType.BITMAP: {
      checkImageSize(d.width, d.height, `image ${d.id}`);
      const format = r.u8('bitmap format');
      const flags = r.u8('bitmap flags');
      const x = r.u32('bitmap x');
      const y = r.u32('bitmap y');
      const stride = r.u32('bitmap stride');
      const palette = readPalette(r, body, flags, store, false);
      if (bitmapHasPalette(format) && !palette) throw new ProtocolError(`bitmap format ${format} needs a palette and none was sent`);
      checkImageSize(x, y, 'bitmap');
      if (x !== d.width || y !== d.height) {
        throw new ProtocolError(`image ${d.id}: bitmap is ${x}x${y}, descriptor says ${d.width}x${d.height}`);
      }
      if (stride * y > r.remaining) {
        throw new ProtocolError(`bitmap data is truncated: ${x}x${y} stride ${stride} needs ${stride * y} bytes, ${r.remaining} present`);
      }
      const data = r.bytes(stride * y, 'bitmap data');
      img = decodeBitmap({ format, flags, width: x, height: y, stride, data, palette });
      break;
    }
    case ImageType.LZ_PLT: {
      checkImageSize(d.width, d.height, `image ${d.id}`);
      const flags = r.u8('lz_plt flags');
      const size = r.u32('lz_plt data_size');
      const palette = readPalette(r, body, flags, store, true);
      const data = r.bytes(size, 'lz_plt data');
      const h = parseLzHeader(data);
      if (!isLzPaletteType(h.type)) throw new ProtocolError(`LZ_PLT image carries LZ type ${h.type}, not a palette type`);
      checkLzSize(h, d);
      img = decodeLz(data, { palette });
      break;
    }
    case ImageType.LZ_RGB: {
      checkImageSize(d.width, d.height, `image ${d.id}`);
      const size = r.u32('lz_rgb data_size');
      const data = r.bytes(size, 'lz_rgb data');
      const h = parseLzHeader(data);
      if (isLzPaletteType(h.type)) throw new ProtocolError(`LZ_RGB image carries palette LZ type ${h.type}`);
      checkLzSize(h, d);
      img = decodeLz(data);
      break;
    }
    case ImageType.LZ4: {
      checkImageSize(d.width, d.height, `image ${d.id}`);
      const size = r.u32('lz4 data_size');
      const data = r.bytes(size, 'lz4 data');
      img = decodeLz4Image(data, d.width, d.height);
      break;
    }
    case ImageType.QUIC: {
      checkImageSize(d.width, d.height, `image ${d.id}`);
      const size = r.u32('quic data_size');
      const data = r.bytes(size, 'quic data');
      const h = parseQuicHeader(data);
      if (h.width !== d.width || h.height !== d.height) {
        throw new ProtocolError(`image ${d.id}: QUIC stream is ${h.width}x${h.height}, descriptor says ${d.width}x${d.height}`);
      }
      img = decodeQuic(data);
      break;
    }
    case ImageType.GLZ_RGB: {
      checkImageSize(d.width, d.height, `image ${d.id}`);
      const size = r.u32('glz_rgb data_size');
      const data = r.bytes(size, 'glz_rgb data');
      img = decodeGlz(data, store.glz, { expect });
      break;
    }
    case ImageType.ZLIB_GLZ_RGB: {
      checkImageSize(d.width, d.height, `image ${d.id}`);
      const glzSize = r.u32('zlib_glz glz_data_size');
      const size = r.u32('zlib_glz data_size');
      const data = r.bytes(size, 'zlib_glz data');
      img = decodeZlibGlz(data, glzSize, store.glz, { expect });
      break;
    }
    case ImageType.JPEG: {
      checkImageSize(d.width, d.height, `image ${d.id}`);
      const size = r.u32('jpeg data_size');
      const data = r.bytes(size, 'jpeg data');
      img = decodeJpeg(data, expect);
      lossy = true;
      break;
    }
    case ImageType.JPEG_ALPHA: {
      checkImageSize(d.width, d.height, `image ${d.id}`);
      const flags = r.u8('jpeg_alpha flags');
      const jpegSize = r.u32('jpeg_alpha jpeg_size');
      const size = r.u32('jpeg_alpha data_size');
      const data = r.bytes(size, 'jpeg_alpha data');
      img = decodeJpegAlpha(data, jpegSize, flags, expect);
      lossy = true;
      break;
    }
    default:
      throw new ProtocolError(`image type ${d.type} is unknown`);
  }
  checkSize(img, d);
  // HIGH_BITS_SET: the pad byte of xRGB data is meaningless. Our decoders already store 255 there
  // for images without alpha; alpha images keep theirs (spice applies it to x8r8g8b8 only).
  if ((d.flags & ImageFlags.HIGH_BITS_SET) && !img.hasAlpha) setOpaque(img.data, img.width * img.height);
  if (d.flags & (ImageFlags.CACHE_ME | ImageFlags.CACHE_REPLACE_ME)) store.putImage(d.id, img, lossy);
  return img;
}
