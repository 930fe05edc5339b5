// Minimal QMP (QEMU Machine Protocol) client: JSON lines over a unix socket, with the
// greeting + qmp_capabilities handshake. A QMP socket serves one client at a time; the harness
// starts QEMU with two (qmp.sock for commands, qmp-events.sock for event listeners).
import { createConnection, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
  /** Date.now() when the harness read it. */
  receivedAt: number;
}

export class QmpError extends Error {
  constructor(
    readonly command: string,
    readonly errorClass: string,
    desc: string,
  ) {
    super(`QMP ${command}: ${errorClass}: ${desc}`);
  }
}

type Pending = { command: string; resolve: (v: unknown) => void; reject: (e: Error) => void };

export class QmpClient {
  /** Every event received so far (waitEvent consumes matching ones). */
  readonly events: QmpEvent[] = [];
  private pending: Pending[] = [];
  private listeners = new Set<(e: QmpEvent) => void>();
  private buf = '';
  private closedErr: Error | undefined;

  private constructor(private readonly sock: Socket) {}

  /** Connect (retrying while the socket does not exist yet) and negotiate capabilities. */
  static async connect(path: string, timeoutMs = 10_000): Promise<QmpClient> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const sock = await new Promise<Socket>((resolve, reject) => {
          const s = createConnection(path);
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        });
        const c = new QmpClient(sock);
        await c.start(Math.max(1000, deadline - Date.now()));
        return c;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if ((code === 'ENOENT' || code === 'ECONNREFUSED') && Date.now() < deadline) {
          await sleep(50);
          continue;
        }
        throw err;
      }
    }
  }

  private start(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('QMP: no greeting')), timeoutMs);
      let greeted = false;
      this.sock.setEncoding('utf8');
      this.sock.on('data', (chunk: string) => {
        this.buf += chunk;
        let nl: number;
        while ((nl = this.buf.indexOf('\n')) >= 0) {
          const line = this.buf.slice(0, nl).trim();
          this.buf = this.buf.slice(nl + 1);
          if (!line) continue;
          let msg: Record<string, unknown>;
          try {
            msg = JSON.parse(line);
          } catch {
            continue;
          }
          if (!greeted && 'QMP' in msg) {
            greeted = true;
            clearTimeout(timer);
            this.execute('qmp_capabilities').then(() => resolve(), reject);
            continue;
          }
          this.onMessage(msg);
        }
      });
      const fail = (err: Error) => {
        this.closedErr ??= err;
        clearTimeout(timer);
        reject(err);
        for (const p of this.pending.splice(0)) p.reject(err);
      };
      this.sock.on('error', fail);
      this.sock.on('close', () => fail(new Error('QMP connection closed')));
    });
  }

  private onMessage(msg: Record<string, unknown>): void {
    if (typeof msg.event === 'string') {
      const e: QmpEvent = { ...(msg as Omit<QmpEvent, 'receivedAt'>), receivedAt: Date.now() };
      this.events.push(e);
      for (const l of this.listeners) l(e);
      return;
    }
    const p = this.pending.shift();
    if (!p) return;
    if (msg.error) {
      const e = msg.error as { class?: string; desc?: string };
      p.reject(new QmpError(p.command, e.class ?? 'Error', e.desc ?? JSON.stringify(e)));
    } else p.resolve(msg.return);
  }

  /** Run a QMP command; resolves with its "return" value, rejects with QmpError. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, timeoutMs = 30_000): Promise<T> {
    if (this.closedErr) return Promise.reject(this.closedErr);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`QMP ${command}: timeout`)), timeoutMs);
      this.pending.push({
        command,
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.sock.write(JSON.stringify(args ? { execute: command, arguments: args } : { execute: command }) + '\n');
    });
  }

  /** Run a human monitor (HMP) command, e.g. "info usb"; resolves with its text output. */
  hmp(commandLine: string): Promise<string> {
    return this.execute<string>('human-monitor-command', { 'command-line': commandLine });
  }

  /** Call cb for every event from now on; returns an unsubscribe function. */
  onEvent(cb: (e: QmpEvent) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  /** Wait for (and consume) the first buffered or future event named NAME that matches pred. */
  waitEvent(name: string, pred: (e: QmpEvent) => boolean = () => true, timeoutMs = 30_000): Promise<QmpEvent> {
    const i = this.events.findIndex((e) => e.event === name && pred(e));
    if (i >= 0) return Promise.resolve(this.events.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`QMP: timeout after ${timeoutMs} ms waiting for event ${name}`));
      }, timeoutMs);
      const off = this.onEvent((e) => {
        if (e.event !== name || !pred(e)) return;
        clearTimeout(timer);
        off();
        const j = this.events.indexOf(e);
        if (j >= 0) this.events.splice(j, 1);
        resolve(e);
      });
    });
  }

  close(): void {
    this.closedErr ??= new Error('QMP client closed');
    this.sock.destroy();
  }
}

/** One-shot: connect, run one command, disconnect. */
export async function qmpCommand<T = unknown>(path: string, command: string, args?: Record<string, unknown>): Promise<T> {
  const c = await QmpClient.connect(path);
  try {
    return await c.execute<T>(command, args);
  } finally {
    c.close();
  }
}
