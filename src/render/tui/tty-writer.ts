// Terminal output that never blocks the event loop (no Ink here).
//
// Node writes to a TTY synchronously: when the terminal is slow to consume (a sixel image is
// tens to hundreds of KB for xterm to parse), process.stdout.write() blocks the thread that runs
// the channels. The live view therefore writes through a worker thread that does the blocking
// writes to the same file descriptor, in order. The main thread posts strings and knows how many
// bytes are still queued (backlog()), so the sixel overlay can drop images while the terminal
// lags instead of queueing them. flush() resolves once everything posted so far is written.
import { writeSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

// CommonJS, evaluated in the worker; no loader needed (execArgv is cleared).
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { writeSync } = require('node:fs');
const fd = workerData.fd;
const nap = new Int32Array(new SharedArrayBuffer(4));
parentPort.on('message', (m) => {
  if (typeof m.data === 'string' && m.data.length) {
    const buf = Buffer.from(m.data, 'utf8');
    let off = 0;
    while (off < buf.length) {
      try {
        off += writeSync(fd, buf, off, buf.length - off);
      } catch (e) {
        if (e && e.code === 'EAGAIN') { Atomics.wait(nap, 0, 0, 2); continue; }
        parentPort.postMessage({ seq: m.seq, error: String(e && e.message || e) });
        return;
      }
    }
  }
  parentPort.postMessage({ seq: m.seq });
});
`;

export interface TtyWriter {
  /** `out` with write() replaced by a non-blocking, ordered one; everything else is out's */
  readonly stream: NodeJS.WriteStream;
  /** characters posted and not yet written */
  backlog(): number;
  /** resolves once everything posted so far is written (or the writer failed) */
  flush(): Promise<void>;
  /** flushes, then stops the worker */
  close(): Promise<void>;
  /** true once the worker failed: writes go straight to `out` (blocking) */
  readonly failed: boolean;
}

/** A worker-backed writer for `out` (which must have an fd, i.e. be a real TTY or file). */
export function createTtyWriter(out: NodeJS.WriteStream & { fd?: number }, fd = out.fd ?? 1): TtyWriter {
  let seq = 0;
  let written = 0;
  let queued = 0;
  const sizes = new Map<number, number>();
  const waiters: { seq: number; resolve: () => void }[] = [];
  let failed = false;
  let closed = false;

  const worker = new Worker(WORKER, { eval: true, workerData: { fd }, execArgv: [], stdout: false, stderr: false });
  worker.unref();
  const settle = () => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (failed || waiters[i]!.seq <= written) waiters.splice(i, 1)[0]!.resolve();
    }
  };
  const fail = () => {
    failed = true;
    queued = 0;
    settle();
  };
  worker.on('message', (m: { seq: number; error?: string }) => {
    written = Math.max(written, m.seq);
    queued -= sizes.get(m.seq) ?? 0;
    sizes.delete(m.seq);
    if (m.error) fail();
    settle();
  });
  worker.on('error', fail);
  worker.on('exit', () => {
    if (!closed) fail();
  });

  const post = (data: string): void => {
    if (failed || closed) {
      writeSync(fd, data);
      return;
    }
    const n = ++seq;
    sizes.set(n, data.length);
    queued += data.length;
    worker.postMessage({ seq: n, data });
  };

  const write = (chunk: unknown, encoding?: unknown, cb?: unknown): boolean => {
    const callback = typeof encoding === 'function' ? encoding : cb;
    const data = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
    post(data);
    if (typeof callback === 'function') flush().then(() => (callback as () => void)());
    return true;
  };

  const stream = new Proxy(out, {
    get(target, prop) {
      if (prop === 'write') return write;
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });

  const flush = (): Promise<void> => {
    if (failed || seq <= written) return Promise.resolve();
    const target = seq;
    return new Promise((resolve) => waiters.push({ seq: target, resolve }));
  };

  return {
    stream,
    backlog: () => queued,
    flush,
    async close() {
      await flush();
      closed = true;
      await worker.terminate();
    },
    get failed() {
      return failed;
    },
  };
}
