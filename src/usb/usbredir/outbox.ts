// Coalesces the usbredir packets written during one turn of the event loop into one write, so
// the replies to a burst of guest requests (a UAS command's command, data and status pipes; the
// control transfers QEMU forwards together) cross the SPICE channel as one message: one syscall
// here, one read and one chardev write in spice-server, one pass of QEMU's usbredir parser and
// one wake-up of the guest instead of one per packet. The flush is a process.nextTick: replies
// come from promise continuations, and a tick queued there runs as soon as the microtask queue
// is empty, i.e. after the last reply of the burst and before the event loop moves on.

/** Pending bytes above which the outbox is written at once rather than at the end of the turn. */
export const OUTBOX_FLUSH_BYTES = 64 * 1024;
/** Buffers above this are written on their own rather than copied into a bigger one. */
const BIG = 16 * 1024;

export class Outbox {
  private parts: Buffer[] = [];
  private bytes = 0;
  private scheduled = false;

  /** write: sends one buffer; it may throw (the caller's onError gets the error). */
  constructor(
    private readonly write: (buf: Buffer) => void,
    private readonly onError: (e: unknown) => void,
  ) {}

  /** Queues buf; once OUTBOX_FLUSH_BYTES are queued they go out at once. */
  push(buf: Buffer): void {
    this.parts.push(buf);
    this.bytes += buf.length;
    if (this.bytes >= OUTBOX_FLUSH_BYTES) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }

  /** Writes everything queued now. */
  flush(): void {
    if (!this.parts.length) return;
    const parts = this.parts;
    this.parts = [];
    this.bytes = 0;
    try {
      // Runs of small buffers become one message; big ones (bulk data) are written as they are,
      // not copied.
      let run: Buffer[] = [];
      for (const b of parts) {
        if (b.length <= BIG) {
          run.push(b);
          continue;
        }
        if (run.length) this.write(run.length === 1 ? run[0]! : Buffer.concat(run));
        run = [];
        this.write(b);
      }
      if (run.length) this.write(run.length === 1 ? run[0]! : Buffer.concat(run));
    } catch (e) {
      this.onError(e);
    }
  }

  /** Forgets what is queued (the channel is gone). */
  discard(): void {
    this.parts = [];
    this.bytes = 0;
  }
}
