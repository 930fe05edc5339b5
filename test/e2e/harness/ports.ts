// TCP port helpers: a free port on 127.0.0.1, "is something listening" without connecting to it
// (a SPICE server serves one client at a time, so the harness never probes by connecting).
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { waitFor } from './proc.js';

/** Ports handed out by freePort in this process, not handed out twice. */
const given = new Set<number>();

/** A TCP port on 127.0.0.1 that nothing listens on right now (the kernel picks it). */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.unref();
      srv.once('error', reject);
      srv.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => {
        const addr = srv.address();
        const p = typeof addr === 'object' && addr ? addr.port : 0;
        srv.close(() => resolve(p));
      });
    });
    if (port > 0 && !given.has(port)) {
      given.add(port);
      return port;
    }
  }
  throw new Error('freePort: no free port found');
}

/** True if a TCP socket listens on PORT (any local address), from /proc/net/tcp{,6}. */
export function isListening(port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // cols[1] = local "ADDR:PORT" (hex), cols[3] = state, 0A = LISTEN
      if (cols.length > 3 && cols[3] === '0A' && cols[1]!.endsWith(`:${hex}`)) return true;
    }
  }
  return false;
}

/** Wait until PORT listens; `check` (e.g. "process still alive") is called on every poll and may throw. */
export async function waitListening(port: number, timeoutMs: number, check?: () => void): Promise<void> {
  await waitFor(
    () => {
      check?.();
      return isListening(port);
    },
    timeoutMs,
    `port ${port} to listen`,
  );
}
