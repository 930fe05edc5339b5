// The client side of the GLZ dictionary (digest §4.5; behaviour of spice-gtk decode-glz.c).
//
// The server compresses GLZ images against a sliding window of images it sent before; the
// client keeps the decoded images, keyed by their 64-bit GLZ image id, so that later images can
// copy pixels out of them. Each image header carries win_head_dist: once image `id` is decoded,
// images older than `id - win_head_dist` are no longer referenced and are released.
// Window images keep their pixels in stream order (the order the encoder saw them: bottom-up
// images are stored bottom row first) as 32-bit B,G,R,A words, `gross` pixels long (palette
// images include their row padding), since references address pixels by that index.

import { ProtocolError } from '../util/errors.js';

/** spice-gtk's GLZ window limits, in bytes of 32-bit pixels. */
export const GLZ_WINDOW_MIN_BYTES = 12 * 1024 * 1024;
export const GLZ_WINDOW_MAX_BYTES = 64 * 1024 * 1024;
/** Largest window (pixels) a client advertises: 64 MiB of 32-bit pixels. */
export const GLZ_WINDOW_MAX_PIXELS = GLZ_WINDOW_MAX_BYTES / 4;

/**
 * The GLZ window size (pixels) to advertise in DISPLAY_INIT, as spice-gtk computes it from the
 * main channel's ram_hint (bytes): clamp(ram_hint / 2, 12 MiB, 64 MiB) / 4.
 */
export function glzWindowPixels(ramHint: number): number {
  const hint = Number.isFinite(ramHint) && ramHint > 0 ? ramHint : 0;
  const bytes = Math.max(GLZ_WINDOW_MIN_BYTES, Math.min(GLZ_WINDOW_MAX_BYTES, Math.floor(hint / 2)));
  return Math.floor(bytes / 4);
}

export interface GlzWindowImage {
  id: bigint;
  /** Pixels in stream order, native B,G,R,A words. */
  px: Uint32Array;
  /** Number of addressable pixels (width*height, or stride*pixels-per-byte*height for palettes). */
  gross: number;
  /** True for RGBA images: their alpha bytes are real. */
  hasAlpha: boolean;
}

/**
 * Decoded GLZ images by id. Holds at most `maxPixels` pixels: beyond that the oldest images
 * are dropped (a server that stays within the window it was given never gets there; a later
 * reference to a dropped image is a ProtocolError, never unbounded memory).
 */
export class GlzWindow {
  private readonly images = new Map<bigint, GlzWindowImage>();
  private pixelCount = 0;
  /** Every id below this one has been released. */
  private oldest = 0n;

  /** maxPixels: memory bound; default twice the largest window a client advertises. */
  constructor(readonly maxPixels = 2 * GLZ_WINDOW_MAX_PIXELS) {}

  get pixels(): number { return this.pixelCount; }
  get imageCount(): number { return this.images.size; }
  has(id: bigint): boolean { return this.images.has(id); }
  get(id: bigint): GlzWindowImage | undefined { return this.images.get(id); }
  /** Ids currently held, in insertion order. */
  ids(): bigint[] { return [...this.images.keys()]; }

  /**
   * Adds a decoded image, then releases the images older than `id - winHeadDist` (the oldest one
   * the server may still reference).
   */
  add(img: GlzWindowImage, winHeadDist: number): void {
    if (img.gross > this.maxPixels) {
      throw new ProtocolError(`GLZ image ${img.id} has ${img.gross} pixels, more than the ${this.maxPixels}-pixel window`);
    }
    this.remove(img.id);
    this.images.set(img.id, img);
    this.pixelCount += img.gross;
    const keepFrom = img.id - BigInt(winHeadDist >>> 0);
    if (keepFrom > this.oldest) this.release(keepFrom);
    if (this.pixelCount > this.maxPixels) {
      for (const [id] of this.images) {
        if (this.pixelCount <= this.maxPixels) break;
        if (id !== img.id) this.remove(id);
      }
    }
  }

  /** Drops every image (new session, or the server reset its dictionary). */
  clear(): void {
    this.images.clear();
    this.pixelCount = 0;
    this.oldest = 0n;
  }

  private remove(id: bigint): void {
    const old = this.images.get(id);
    if (!old) return;
    this.images.delete(id);
    this.pixelCount -= old.gross;
  }

  private release(keepFrom: bigint): void {
    if (keepFrom - this.oldest <= BigInt(this.images.size)) {
      for (let id = this.oldest; id < keepFrom; id++) this.remove(id);
    } else {
      for (const id of [...this.images.keys()]) if (id < keepFrom) this.remove(id);
    }
    this.oldest = keepFrom;
  }
}
