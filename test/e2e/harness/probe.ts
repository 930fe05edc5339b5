// Check that a port speaks SPICE: send a SpiceLinkMess for the main channel and read the
// server's SpiceLinkHeader + SpiceLinkReply error code. The connection is closed right after
// (a SPICE server serves one client at a time: do not probe while a client is connected).
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';

export interface SpiceProbeResult {
  major: number;
  minor: number;
  /** SpiceLinkReply error (0 = OK). */
  error: number;
  /** For TLS: whether the certificate verified against the given CA. */
  authorized?: boolean;
}

export function spiceProbe(
  port: number,
  opts: { tls?: { ca: string; servername?: string }; timeoutMs?: number } = {},
): Promise<SpiceProbeResult> {
  return new Promise((resolve, reject) => {
    let sock: Socket;
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`spiceProbe ${port}: timeout`));
    }, opts.timeoutMs ?? 5000);
    const done = (err: Error | null, r?: SpiceProbeResult) => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(r!);
    };
    const hello = () => {
      const b = Buffer.alloc(16 + 18);
      b.write('REDQ', 0, 'latin1');
      b.writeUInt32LE(2, 4); // major
      b.writeUInt32LE(2, 8); // minor
      b.writeUInt32LE(18, 12); // size of SpiceLinkMess
      // connection_id 0, channel_type 1 (main), channel_id 0, 0 common caps, 0 channel caps
      b.writeUInt8(1, 20);
      b.writeUInt32LE(18, 30); // caps_offset
      sock.write(b);
    };
    if (opts.tls) {
      sock = tlsConnect({ host: '127.0.0.1', port, ca: opts.tls.ca, servername: opts.tls.servername ?? 'localhost' });
      sock.once('secureConnect', hello);
    } else {
      sock = netConnect({ host: '127.0.0.1', port });
      sock.once('connect', hello);
    }
    let buf = Buffer.alloc(0);
    sock.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length < 20) return;
      if (buf.toString('latin1', 0, 4) !== 'REDQ') return done(new Error(`spiceProbe ${port}: not a SPICE server`));
      const r: SpiceProbeResult = { major: buf.readUInt32LE(4), minor: buf.readUInt32LE(8), error: buf.readUInt32LE(16) };
      if (opts.tls) r.authorized = (sock as TLSSocket).authorized;
      done(null, r);
    });
    sock.once('error', (err) => done(err));
    sock.once('close', () => done(new Error(`spiceProbe ${port}: closed before a reply`)));
  });
}
