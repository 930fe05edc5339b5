import { createRequire } from 'node:module';
import { ProtocolError } from '../../../util/errors.js';

// The native LZ4 module is loaded when the first message needs it, not at start-up: a USB
// redirect counts its start-up in the time until the guest sees the device, and most small
// messages are never compressed.
type Lz4 = { compressSync(b: Buffer): Buffer; uncompressSync(b: Buffer): Buffer };
let lz4: Lz4 | null = null;
function native(): Lz4 {
  lz4 ??= createRequire(import.meta.url)('lz4-napi') as Lz4;
  return lz4;
}

/**
 * Loads the native module now (~20 ms, blocking): call it while waiting on the peer anyway,
 * e.g. right after plugging a USB device (the guest takes >100 ms to start enumerating), so
 * that the first large message of a recognition does not pay for it.
 */
export function preloadLz4(): void {
  native();
}

// SPICEVMC_COMPRESSED_DATA: u8 type (0 NONE, 1 LZ4); for LZ4: u32 uncompressed_size, then one raw
// LZ4 block to the end of the message. lz4-napi's own framing is exactly "u32 LE size + block",
// so the body after the type byte is what it compresses to and decompresses from.
export const COMPRESSION_LZ4 = 1;
/** spice-gtk and spice-server compress only writes larger than this. */
export const COMPRESS_THRESHOLD = 1000;
/** The server reads its chardev in chunks of at most 64 KiB; anything far above is hostile. */
export const MAX_UNCOMPRESSED = 16 * 1024 * 1024;

export function decodeCompressedData(body: Buffer): Buffer {
  if (body.length < 1) throw new ProtocolError('SPICEVMC_COMPRESSED_DATA is empty');
  const type = body[0]!;
  if (type === 0) return body.subarray(1);
  if (type !== COMPRESSION_LZ4) throw new ProtocolError(`SPICEVMC_COMPRESSED_DATA: unknown compression type ${type}`);
  if (body.length < 6) throw new ProtocolError('SPICEVMC_COMPRESSED_DATA: truncated LZ4 header');
  const size = body.readUInt32LE(1);
  if (size === 0 || size > MAX_UNCOMPRESSED) throw new ProtocolError(`SPICEVMC_COMPRESSED_DATA declares ${size} uncompressed bytes`);
  // An LZ4 block expands at most ~255x; refuse sizes the block cannot possibly produce.
  if (size > (body.length - 5) * 255 + 16) throw new ProtocolError(`SPICEVMC_COMPRESSED_DATA: ${body.length - 5} bytes cannot expand to ${size}`);
  let out: Buffer;
  try {
    out = native().uncompressSync(body.subarray(1));
  } catch (e) {
    throw new ProtocolError(`SPICEVMC_COMPRESSED_DATA: corrupt LZ4 block (${(e as Error).message})`);
  }
  if (out.length !== size) throw new ProtocolError(`SPICEVMC_COMPRESSED_DATA: LZ4 block gave ${out.length} bytes, declared ${size}`);
  return out;
}

/** The COMPRESSED_DATA body for payload, or null when compressing does not pay. */
export function encodeCompressedData(payload: Buffer): Buffer | null {
  if (payload.length <= COMPRESS_THRESHOLD) return null;
  const c = native().compressSync(payload);
  if (c.length - 4 >= payload.length) return null;
  const out = Buffer.allocUnsafe(1 + c.length);
  out[0] = COMPRESSION_LZ4;
  c.copy(out, 1);
  return out;
}
