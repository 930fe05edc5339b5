// The NDJSON stats lines off a TTY (`connect --duration 5 --stats-interval 500`) against a packet
// capture of the same session: per channel and direction, the last line's bytesIn / bytesOut equal
// the TCP payload bytes the capture saw on that channel's connection (within 1%; retransmitted
// segments are counted once: the application sent those bytes once). Channels are matched to TCP
// streams by the link message each stream starts with (SpiceLinkMess: channel type and id).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startXspice, waitFor, type XspiceServer } from './harness/index.js';
import { spicectl } from './spicectl.js';

const tshark = spawnSync('tshark', ['--version']).status === 0;
const root = process.getuid?.() === 0;
const CHANNEL_NAMES: Record<number, string> = { 1: 'main', 2: 'display', 3: 'inputs', 4: 'cursor', 5: 'playback', 6: 'record', 9: 'usbredir' };

interface Flow { client: number; in: number; out: number; raw: { in: number; out: number }; channel?: string }

/** Payload bytes per TCP stream and direction, from `tshark -r`; retransmissions counted once. */
function flows(pcap: string, serverPort: number): Map<number, Flow> {
  const fields = ['-T', 'fields', '-E', 'separator=,', '-e', 'tcp.stream', '-e', 'tcp.srcport', '-e', 'tcp.dstport', '-e', 'tcp.len'];
  const read = (filter: string) => {
    const r = spawnSync('tshark', ['-r', pcap, '-2', ...fields, '-Y', filter], { encoding: 'utf8', maxBuffer: 1 << 28 });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.split('\n').filter(Boolean).map((l) => l.split(',').map(Number) as [number, number, number, number]);
  };
  const out = new Map<number, Flow>();
  const get = (stream: number, client: number) => {
    let f = out.get(stream);
    if (!f) out.set(stream, (f = { client, in: 0, out: 0, raw: { in: 0, out: 0 } }));
    return f;
  };
  for (const [stream, src, dst, len] of read('tcp.len > 0')) {
    const f = get(stream, src === serverPort ? dst : src);
    if (src === serverPort) f.raw.in += len;
    else f.raw.out += len;
  }
  for (const [stream, src, dst, len] of read('tcp.len > 0 && !tcp.analysis.retransmission && !tcp.analysis.fast_retransmission && !tcp.analysis.spurious_retransmission')) {
    const f = get(stream, src === serverPort ? dst : src);
    if (src === serverPort) f.in += len;
    else f.out += len;
  }
  // Which channel: bytes 20 and 21 of the client's first segment (16-byte link header, then
  // SpiceLinkMess: u32 connection_id, u8 channel_type, u8 channel_id).
  const r = spawnSync('tshark', ['-r', pcap, '-T', 'fields', '-E', 'separator=,', '-e', 'tcp.stream', '-e', 'tcp.payload', '-Y', `tcp.len > 0 && tcp.dstport == ${serverPort}`], { encoding: 'utf8', maxBuffer: 1 << 28 });
  for (const line of r.stdout.split('\n').filter(Boolean)) {
    const [s, hex] = line.split(',');
    const f = out.get(Number(s));
    if (!f || f.channel || !hex) continue;
    const b = Buffer.from(hex.replace(/:/g, ''), 'hex');
    if (b.length >= 22 && b.toString('latin1', 0, 4) === 'REDQ') f.channel = `${CHANNEL_NAMES[b[20]!] ?? b[20]}:${b[21]}`;
  }
  return out;
}

describe('stats lines vs a packet capture', { skip: !tshark ? 'tshark is not installed' : !root ? 'capturing needs root' : false }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'spicectl-stats-'));
  let x: XspiceServer;
  let cap: ChildProcess | undefined;
  before(async () => {
    x = await startXspice({ content: 'basic' });
  });
  after(async () => {
    cap?.kill('SIGKILL');
    await x?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('connect --duration 5 --stats-interval 500: one line per interval, the last one matches tshark within 1%', async () => {
    const pcap = join(dir, 'cap.pcap');
    let capErr = '';
    cap = spawn('tshark', ['-i', 'lo', '-f', `tcp port ${x.port}`, '-w', pcap], { stdio: ['ignore', 'ignore', 'pipe'] });
    cap.stderr!.on('data', (d) => (capErr += d));
    const capExit = new Promise((r) => cap!.on('exit', r));
    await waitFor(() => /Capturing on/.test(capErr), 15_000, 'tshark to start capturing');
    await new Promise((r) => setTimeout(r, 500));

    const r = await spicectl(['connect', `spice://127.0.0.1:${x.port}`, '--duration', '5', '--stats-interval', '500']);
    assert.equal(r.code, 0, r.stderr);
    await new Promise((res) => setTimeout(res, 500));
    cap.kill('SIGINT');
    await capExit;

    // stdout is NDJSON only: ~10 interval lines and the final one.
    const lines = r.stdout.trim().split('\n');
    const stats = lines.map((l) => JSON.parse(l));
    assert.ok(stats.length >= 9 && stats.length <= 12, `${stats.length} lines`);
    for (const s of stats) assert.deepEqual(Object.keys(s), ['t', 'uptimeMs', 'pingMs', 'display', 'mouseMode', 'agent', 'channels', 'usb']);
    for (let i = 1; i < stats.length; i++) assert.ok(stats[i].uptimeMs > stats[i - 1].uptimeMs);
    assert.ok(stats.some((s) => s.display?.fps > 0), 'the animated desktop has a non-zero fps');
    assert.ok(stats.some((s) => typeof s.pingMs === 'number'), 'a ping was measured');
    assert.ok(stats.some((s) => s.channels.find((c: { channel: string }) => c.channel === 'display:0')?.rateIn > 0));
    const last = stats.at(-1);

    const byChannel = new Map([...flows(pcap, x.port).values()].map((f) => [f.channel, f]));
    assert.deepEqual([...byChannel.keys()].sort(), ['cursor:0', 'display:0', 'inputs:0', 'main:0']);
    const report: string[] = [];
    for (const c of last.channels as { channel: string; bytesIn: number; bytesOut: number }[]) {
      const f = byChannel.get(c.channel);
      assert.ok(f, `a TCP stream for ${c.channel}`);
      report.push(`${c.channel}: in ${c.bytesIn} vs ${f.in} (raw ${f.raw.in}), out ${c.bytesOut} vs ${f.out} (raw ${f.raw.out})`);
      for (const [ours, theirs, what] of [[c.bytesIn, f.in, 'in'], [c.bytesOut, f.out, 'out']] as const) {
        assert.ok(Math.abs(ours - theirs) <= theirs * 0.01, `${c.channel} ${what}: stats ${ours} vs capture ${theirs}\n${report.join('\n')}`);
      }
    }
    const total = last.channels.reduce((a: number, c: { bytesIn: number }) => a + c.bytesIn, 0);
    assert.ok(total > 100_000, `a real session: ${total} bytes in`);
    console.log(['stats vs capture (exact / with retransmissions):', ...report].join('\n'));
  });
});
