/**
 * A FIFO of received chunks. Lets parsers take exactly n bytes without copying
 * when they sit in one chunk, and without quadratic re-concatenation when they don't.
 */
export class ByteQueue {
  private chunks: Buffer[] = [];
  private head = 0; // offset into chunks[0]
  length = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** Read a u8/u16/u32 at offset without consuming (caller checks length). */
  peekByte(offset: number): number {
    let off = this.head + offset;
    for (const c of this.chunks) {
      if (off < c.length) return c[off]!;
      off -= c.length;
    }
    throw new RangeError('peek past end');
  }

  peek(n: number): Buffer {
    if (n > this.length) throw new RangeError('peek past end');
    const first = this.chunks[0];
    if (first && first.length - this.head >= n) return first.subarray(this.head, this.head + n);
    const out = Buffer.allocUnsafe(n);
    let copied = 0;
    let off = this.head;
    for (const c of this.chunks) {
      const take = Math.min(c.length - off, n - copied);
      c.copy(out, copied, off, off + take);
      copied += take;
      off = 0;
      if (copied === n) break;
    }
    return out;
  }

  take(n: number): Buffer {
    const out = this.peek(n);
    this.skip(n);
    return out;
  }

  skip(n: number): void {
    if (n > this.length) throw new RangeError('skip past end');
    this.length -= n;
    while (n > 0) {
      const c = this.chunks[0]!;
      const avail = c.length - this.head;
      if (n < avail) {
        this.head += n;
        return;
      }
      n -= avail;
      this.chunks.shift();
      this.head = 0;
    }
  }

  /** Everything left, as one buffer (empties the queue). */
  drain(): Buffer {
    return this.take(this.length);
  }
}
