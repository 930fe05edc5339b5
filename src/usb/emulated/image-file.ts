// The backing file of an emulated disk or CD: positional reads and writes on one file
// descriptor (no seek state, so concurrent commands cannot interfere), fsync on request and
// on close. Reads go straight from the file into the buffer that is sent to the guest: one
// read() per bulk IN request, however large.
//
// Small reads (up to SYNC_READ_MAX) are done with a blocking pread on the event loop's thread.
// A guest reads metadata a block at a time and waits for each one; through the thread pool a
// read cost an extra hop (and the reply to the command pipe left on its own, before the data),
// while a pread of a few KiB from the page cache takes microseconds. Bigger reads stay async,
// so a slow disk cannot hold up the other channels for long.
//
// Errors are not caught here: a failed read/write rejects with the fs error (err.code such
// as 'ENOSPC' or 'EIO'); the SCSI layer turns it into sense data. The file handle is
// injectable (BlockFile) so tests can simulate failures.

import { readSync } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { SpiceError } from '../../util/errors.js';

/** The part of fs.promises.FileHandle an image needs. */
export interface BlockFile {
  read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  write(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
  sync(): Promise<void>;
  close(): Promise<void>;
  /** Optional blocking read, used for reads up to SYNC_READ_MAX; returns the bytes read. */
  readSync?(buffer: Buffer, offset: number, length: number, position: number): number;
}

/** Reads up to this many bytes are done synchronously when the file offers readSync. */
export const SYNC_READ_MAX = 64 * 1024;

/** A FileHandle with the blocking read of its descriptor. */
function blockFile(fh: FileHandle): BlockFile {
  return Object.assign(fh, {
    readSync: (buffer: Buffer, offset: number, length: number, position: number) => readSync(fh.fd, buffer, offset, length, position),
  });
}

/**
 * Hook for a later read-ahead cache: consulted before each read, told after each read.
 * Not used by default (reads are served directly from the file).
 */
export interface ReadAhead {
  /** Bytes [pos, pos + length) if already held, else undefined. */
  lookup(pos: number, length: number): Buffer | undefined;
  /** Called after a read from the file (e.g. to start prefetching the next range). */
  afterRead(pos: number, length: number, file: ImageFile): void;
  /** Called after a write to [pos, pos + length): drop overlapping cached data. */
  invalidate(pos: number, length: number): void;
}

export interface ImageStats {
  reads: number;
  bytesRead: number;
  writes: number;
  bytesWritten: number;
  syncs: number;
}

export interface OpenImageOptions {
  /** Open read-only (O_RDONLY); writes then throw. */
  readOnly?: boolean;
}

export class ImageFile {
  readonly path: string;
  readonly size: number;
  readonly readOnly: boolean;
  readAhead: ReadAhead | null = null;
  readonly stats: ImageStats = { reads: 0, bytesRead: 0, writes: 0, bytesWritten: 0, syncs: 0 };
  private handle: BlockFile | null;
  private dirty = false;
  private closing: Promise<void> | null = null;

  constructor(handle: BlockFile, size: number, opts: { path?: string; readOnly?: boolean } = {}) {
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`image size ${size} is invalid`);
    this.handle = handle;
    this.size = size;
    this.path = opts.path ?? '(image)';
    this.readOnly = opts.readOnly ?? false;
  }

  /** Open a regular file. Throws SpiceError('input') with a one-line reason. */
  static async open(path: string, opts: OpenImageOptions = {}): Promise<ImageFile> {
    const readOnly = opts.readOnly ?? false;
    let st;
    try {
      st = await stat(path);
    } catch (e) {
      throw new SpiceError('input', `cannot use image ${path}: ${describeFsError(e)}`, { cause: e });
    }
    if (!st.isFile()) throw new SpiceError('input', `cannot use image ${path}: not a regular file`);
    let handle;
    try {
      handle = await open(path, readOnly ? 'r' : 'r+');
    } catch (e) {
      const hint = !readOnly && (e as NodeJS.ErrnoException).code === 'EACCES' ? ' (use --ro for a read-only device)' : '';
      throw new SpiceError('input', `cannot open image ${path}${readOnly ? '' : ' for writing'}: ${describeFsError(e)}${hint}`, { cause: e });
    }
    return new ImageFile(blockFile(handle), st.size, { path, readOnly });
  }

  get isOpen(): boolean {
    return this.handle !== null;
  }

  /** True when written since the last sync. */
  get needsSync(): boolean {
    return this.dirty;
  }

  private fh(): BlockFile {
    if (!this.handle) throw Object.assign(new Error(`image ${this.path} is closed`), { code: 'EBADF' });
    return this.handle;
  }

  /**
   * Read `length` bytes at `pos` into a new buffer: one read() call for the whole range
   * (more only if the OS returns a short read). Bytes past the end of the file read as 0.
   */
  async read(pos: number, length: number): Promise<Buffer> {
    checkRange(pos, length);
    const cached = this.readAhead?.lookup(pos, length);
    if (cached) return cached;
    const fh = this.fh();
    const buf = Buffer.allocUnsafe(length);
    const sync = fh.readSync && length <= SYNC_READ_MAX ? fh.readSync.bind(fh) : null;
    let done = 0;
    while (done < length) {
      const bytesRead = sync ? sync(buf, done, length - done, pos + done) : (await fh.read(buf, done, length - done, pos + done)).bytesRead;
      if (bytesRead === 0) {
        buf.fill(0, done);
        break;
      }
      done += bytesRead;
    }
    this.stats.reads++;
    this.stats.bytesRead += length;
    this.readAhead?.afterRead(pos, length, this);
    return buf;
  }

  /** Write all of data at pos (positional; loops on short writes). */
  async write(pos: number, data: Buffer): Promise<void> {
    checkRange(pos, data.length);
    if (this.readOnly) throw Object.assign(new Error(`image ${this.path} is read-only`), { code: 'EROFS' });
    const fh = this.fh();
    this.readAhead?.invalidate(pos, data.length);
    this.dirty = true;
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await fh.write(data, done, data.length - done, pos + done);
      if (bytesWritten <= 0) throw Object.assign(new Error('write returned 0 bytes'), { code: 'EIO' });
      done += bytesWritten;
    }
    this.stats.writes++;
    this.stats.bytesWritten += data.length;
  }

  /** fsync if anything was written since the last sync. */
  async sync(): Promise<void> {
    if (!this.dirty || this.readOnly) return;
    this.dirty = false;
    try {
      await this.fh().sync();
      this.stats.syncs++;
    } catch (e) {
      this.dirty = true;
      throw e;
    }
  }

  /** Sync (if written) and close. Idempotent; rejects if the final fsync fails (still closes). */
  close(): Promise<void> {
    if (!this.closing) this.closing = this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    const fh = this.handle;
    if (!fh) return;
    let err: unknown = null;
    try {
      await this.sync();
    } catch (e) {
      err = e;
    }
    this.handle = null;
    await fh.close();
    if (err) throw err;
  }
}

function checkRange(pos: number, length: number): void {
  if (!Number.isSafeInteger(pos) || pos < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw new RangeError(`bad image range ${pos}+${length}`);
  }
}

/** "ENOSPC (no space left on device)" style text of an fs error. */
export function describeFsError(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const code = err?.code;
  const known: Record<string, string> = {
    ENOENT: 'no such file',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EROFS: 'read-only file system',
    ENOSPC: 'no space left on device',
    EDQUOT: 'disk quota exceeded',
    EIO: 'input/output error',
    EISDIR: 'is a directory',
    EBADF: 'file is closed',
    EFBIG: 'file too large',
  };
  if (code && known[code]) return `${code} (${known[code]})`;
  return code ? `${code} (${err.message})` : String(err?.message ?? e);
}
