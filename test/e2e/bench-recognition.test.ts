// spicectl bench recognition against QEMU with the Linux test guest (one TCG boot for the
// file): fresh sessions per run, the timeline from the client's own usbredir traffic in order,
// the guest oracle (its serial log), clean detaches between runs, a compression x limit
// matrix through the in-process link shaper, and --hotplug (one session per cell, every run
// plugs into it). QMP SPICE_INITIALIZED events count the connections the server really saw.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { QmpClient, repoRoot, startQemu, type QemuServer } from './harness/index.js';
import { BIN } from './spicectl.js';
import { makeFatImage, makeIso, randomFile, textFile } from './usb-images.js';
import { POINTS, checkTimeline, type PointKey } from '../../src/bench/timeline.js';

const tmp = mkdtempSync(join(tmpdir(), 'spicectl-bench-'));

/**
 * `spicectl bench ...`: the real binary once main.ts registers the command; until then the same
 * program (dist/src/main.js) with registerBench added.
 */
let cli: string[] | undefined;
async function benchCli(): Promise<string[]> {
  if (cli) return cli;
  const probe = await run([BIN, 'bench', '--help']);
  if (probe.code === 0 && /recognition/.test(probe.stdout)) return (cli = [BIN]);
  const wrapper = join(tmp, 'spicectl-with-bench.mjs');
  const dist = (p: string) => pathToFileURL(join(repoRoot, 'dist/src', p)).href;
  writeFileSync(wrapper, `
import { buildProgram } from '${dist('main.js')}';
import { registerBench } from '${dist('commands/bench.js')}';
import { SpiceError } from '${dist('util/errors.js')}';
const program = await buildProgram(process.argv);
if (!program.commands.some((c) => c.name() === 'bench')) registerBench(program);
try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof SpiceError) { process.stderr.write('spicectl: ' + e.message + '\\n'); process.exitCode = e.exitCode; }
  else if (typeof e?.code === 'string' && e.code.startsWith('commander.')) process.exitCode = e.exitCode === 0 ? 0 : 2;
  else throw e;
}
`);
  return (cli = [wrapper]);
}

function run(args: string[], timeoutMs = 300_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CI: '1' } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

async function bench(args: string[]) {
  return run([...(await benchCli()), 'bench', ...args]);
}

interface RunJson {
  cell: string;
  run: number;
  ok: boolean;
  error?: { message: string };
  timeline: Record<PointKey, number | null>;
  ready: number | null;
  marks: Record<string, number>;
  bytes: Record<string, number | null>;
  client: { turns: number; ms: number } | null;
  lz4: boolean;
  scsi: { commands: number; opcodes: Record<string, number> };
  detach: { by: string };
}

describe('bench recognition against a QEMU guest', () => {
  let q: QemuServer;
  let uri: string;
  let qmpEvents: QmpClient;
  before(async () => {
    q = await startQemu({ usbredir: 1, append: 'guest.delay_use=0' });
    uri = `spice://127.0.0.1:${q.port}`;
    qmpEvents = await QmpClient.connect(q.qmpEventsSocket);
  });
  after(async () => {
    qmpEvents?.close();
    await q?.stop();
  });

  /** Channels the server linked from now on, by type (1 = main, 9 = usbredir); call stop(). */
  function countLinks(): { byType: Map<number, number>; stop(): void } {
    const byType = new Map<number, number>();
    const stop = qmpEvents.onEvent((e) => {
      if (e.event !== 'SPICE_INITIALIZED') return;
      const t = (e.data as { client: { 'channel-type': number } }).client['channel-type'];
      byType.set(t, (byType.get(t) ?? 0) + 1);
    });
    return { byType, stop };
  }

  test('--runs 2 with the guest oracle: every timeline point, in order, and the oracle time', async () => {
    const img = makeFatImage(tmp, 'disk.img', { 'hello.txt': Buffer.from('hello\n'), 'notes.txt': textFile(60_000) }, 8192);
    const links = countLinks();
    const r = await bench(['recognition', uri, '--disk', img.path, '--ro', '--runs', '2', '--guest-log', q.serialLog, '--ready', 'MARK mounted', '--settle-ms', '700', '--json']);
    links.stop();
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.ok, true);
    assert.equal(j.kind, 'recognition');
    assert.equal(j.mode, 'fresh-session');
    assert.match(j.t0, /TCP connect/);
    // a fresh session per run, as the server saw it
    assert.equal(j.cells[0].sessions, 2);
    assert.equal(links.byType.get(1), 2, `main channel links: ${JSON.stringify([...links.byType])}`);
    assert.match(j.device, /^disk .*disk\.img$/);
    assert.equal(j.settings.ready, 'MARK mounted');
    assert.equal(j.cells.length, 1);
    const cell = j.cells[0];
    assert.equal(cell.cell, 'lz4/free');
    assert.equal(cell.runs.length, 2);
    for (const run of cell.runs as RunJson[]) {
      assert.equal(run.ok, true, run.error?.message);
      // a disk is read from LBA 0 (partition table): the whole chain is there and in order
      assert.deepEqual(checkTimeline(run.timeline as never), [], JSON.stringify(run.timeline));
      // (the channel list is not on the path: the usbredir channel may open before it comes)
      for (const p of POINTS.filter((x) => x.ordered)) assert.equal(typeof run.timeline[p.key], 'number', `${p.key} in run ${run.run}`);
      assert.ok(run.timeline.mainInit! > 0, 't0 is before the TCP connect');
      // the oracle: the guest mounted it after our first READ, within this run
      assert.ok(run.ready !== null && run.ready > run.timeline.firstRead!, `oracle ${run.ready}`);
      assert.equal(run.ready, run.marks.mounted);
      assert.ok(run.marks['usb-attached']! < run.marks['block-ready']! && run.marks['block-ready']! <= run.ready!);
      assert.equal(run.marks['usb-detached'], undefined, 'detach marks are not part of the recognition');
      // settled = the last command, not the end of the idle wait (the guest may still work on
      // its own after its last command: the first FAT mount of a boot loads codepage modules)
      assert.ok(run.timeline.settled! < run.ready! + 700, `settled ${run.timeline.settled} vs ready ${run.ready}: ${JSON.stringify(run)}`);
      assert.equal(run.detach.by, 'guest', 'clean detach seen by the guest before the next run');
      assert.ok(run.scsi.opcodes['INQUIRY']! >= 1 && run.scsi.opcodes['READ(10)']! >= 1);
      assert.ok(run.bytes.payloadOut! > 60_000 && run.bytes.wireOut! > 0 && run.bytes.payloadIn! > 0);
      assert.ok(run.bytes.sessionIn! >= run.bytes.wireIn!);
    }
    // the summary: medians between min and max for every point
    for (const p of POINTS.filter((x) => x.ordered)) {
      const s = cell.points[p.key];
      assert.equal(s.n, 2, p.key);
      assert.ok(s.min <= s.median && s.median <= s.max);
    }
    assert.equal(cell.ready.n, 2);
  });

  test('matrix: lz4,off x none,200KB/s through the link shaper, text table', async () => {
    const iso = makeIso(tmp, 'cd.iso', { 'readme.txt': Buffer.from('spicectl bench\n'), 'payload.bin': randomFile(64 << 10) });
    const r = await bench(['recognition', uri, '--cd', iso.path, '--runs', '1', '--compress', 'lz4,off', '--limit', 'none,200KB/s', '--guest-log', q.serialLog, '--ready', 'MARK mounted', '--settle-ms', '500', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.deepEqual(j.cells.map((c: { cell: string }) => c.cell), ['lz4/free', 'lz4/200KB/s', 'off/free', 'off/200KB/s']);
    for (const c of j.cells) {
      const run = c.runs[0] as RunJson;
      assert.equal(run.ok, true, `${c.cell}: ${run.error?.message}`);
      // a CD's file system starts at LBA 16: the first READ is there, LBA 0 need not be read
      assert.deepEqual(checkTimeline(run.timeline as never, ['usbredirUp', 'deviceConnectSent', 'setConfiguration', 'firstScsiCommand', 'readCapacity', 'firstRead', 'settled']), []);
      assert.ok(run.ready !== null);
      assert.equal(run.lz4, c.compress === 'lz4');
      if (c.compress === 'off') assert.equal(run.bytes.compressedOut, 0);
    }
    // through the shaper the guest's reads take longer: 64 KiB at 200 kB/s alone is ~0.3 s
    const settled = (name: string) => j.cells.find((c: { cell: string }) => c.cell === name).runs[0].timeline.settled as number;
    assert.ok(settled('off/200KB/s') > settled('off/free'), `${settled('off/200KB/s')} vs ${settled('off/free')}`);
    // the text table of the same kind of run
    const t = await bench(['recognition', uri, '--cd', iso.path, '--runs', '1', '--guest-log', q.serialLog, '--ready', 'MARK mounted', '--settle-ms', '500']);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /^recognition of cd .*cd\.iso via 127\.0\.0\.1:\d+: 1 run\(s\) per cell/);
    assert.match(t.stdout, /\nmode fresh-session: t0 = before the TCP connect/);
    assert.match(t.stdout, /\nusbredir channel up\s+\d+\.\d{3}\n/);
    assert.match(t.stdout, /\nguest oracle \/MARK mounted\/\s+\d+\.\d{3}\n/);
    assert.match(t.stdout, /\nREAD CAPACITY\(10\)\s+\d+/);
    assert.doesNotMatch(t.stderr, /\[[#-]+\] \d+\/\d+/, 'no progress bar when stderr is not a TTY');
  });

  test('--hotplug --runs 3: one session for the cell, t0 at the plug, per-run bytes, the guest sees 3 plugs', async () => {
    const iso = makeIso(tmp, 'hot.iso', { 'readme.txt': Buffer.from('hot-plugged\n'), 'payload.bin': randomFile(64 << 10) });
    const from = q.serialSize();
    const links = countLinks();
    const r = await bench(['recognition', uri, '--cd', iso.path, '--hotplug', '--runs', '3', '--guest-log', q.serialLog, '--ready', 'MARK mounted', '--settle-ms', '500', '--json']);
    links.stop();
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.ok, true);
    assert.equal(j.mode, 'hotplug');
    assert.match(j.t0, /device_connect/);
    assert.equal(j.cells.length, 1);
    const cell = j.cells[0];
    // ONE session and ONE usbredir channel for all three runs: our count and the server's
    assert.equal(cell.sessions, 1);
    assert.equal(links.byType.get(1), 1, `main channel links: ${JSON.stringify([...links.byType])}`);
    assert.equal(links.byType.get(9), 1, `usbredir channel links: ${JSON.stringify([...links.byType])}`);
    // the session's own points happened once, before any run
    assert.equal(typeof cell.sessionSetup.mainInit, 'number');
    assert.equal(typeof cell.sessionSetup.helloReceived, 'number');
    const runs = cell.runs as RunJson[];
    assert.equal(runs.length, 3);
    for (const run of runs) {
      assert.equal(run.ok, true, run.error?.message);
      // t0 is the plug: device_connect goes out at once; session points are not part of a run
      assert.ok(run.timeline.deviceConnectSent !== null && run.timeline.deviceConnectSent >= 0 && run.timeline.deviceConnectSent < 20, `deviceConnectSent ${run.timeline.deviceConnectSent}`);
      for (const k of ['mainInit', 'channelsListed', 'usbredirUp', 'helloReceived'] as const) assert.equal(run.timeline[k], null, `${k} in run ${run.run}`);
      assert.deepEqual(checkTimeline(run.timeline as never, ['deviceConnectSent', 'firstControl', 'setConfiguration', 'firstScsiCommand', 'readCapacity', 'firstRead', 'settled']), []);
      assert.ok(typeof run.ready === 'number' && run.ready > 0 && run.ready > run.timeline.firstRead!, `oracle ${run.ready}`);
      assert.equal(run.ready, run.marks.mounted);
      assert.equal(run.detach.by, 'guest', 'the guest saw every unplug before the next plug');
      assert.ok(run.scsi.opcodes['READ CAPACITY(10)']! >= 1);
      // the client's own time: one reply per guest request at least (control + SCSI), and a
      // small part of the recognition (the idle time before the plug is not counted)
      assert.ok(run.client && run.client.turns >= run.scsi.commands + 10, `client ${JSON.stringify(run.client)}, ${run.scsi.commands} SCSI commands`);
      assert.ok(run.client.ms > 0 && run.client.ms < run.timeline.settled! / 4, `client ${run.client.ms} ms, settled at ${run.timeline.settled}`);
    }
    // every run's bytes are its own, not the session's running total
    const first = runs[0]!.bytes;
    assert.ok(first.payloadOut! > 64 << 10, `payloadOut ${first.payloadOut}`);
    for (const run of runs.slice(1)) {
      for (const k of ['payloadIn', 'payloadOut', 'wireOut']) {
        const ratio = run.bytes[k]! / first[k]!;
        assert.ok(ratio > 0.5 && ratio < 2, `run ${run.run} ${k} ${run.bytes[k]} vs run 1 ${first[k]}`);
      }
    }
    // the guest: three mounts and three unplugs since the bench started
    const serial = readFileSync(q.serialLog).subarray(from).toString('utf8');
    assert.equal(serial.match(/MARK mounted\b/g)?.length, 3, serial);
    assert.equal(serial.match(/MARK usb-detached\b/g)?.length, 3, serial);

    // the text report names the mode and its t0, and has no session rows; two cells still get
    // one session each (a SPICE server takes one client at a time: the cells take turns)
    const t = await bench(['recognition', uri, '--cd', iso.path, '--hotplug', '--runs', '2', '--compress', 'lz4,off', '--guest-log', q.serialLog, '--ready', 'MARK mounted', '--settle-ms', '500']);
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /\nmode hotplug: t0 = the plug \(just before device_connect\)/);
    assert.match(t.stdout, /\nsessions opened: lz4\/free 1, off\/free 1\n/);
    assert.match(t.stdout, /\nguest oracle \/MARK mounted\/(\s+\d+\.\d{3} \/ \d+\.\d{3} \/ \d+\.\d{3}){2}\n/);
    assert.doesNotMatch(t.stdout, /main channel up|usbredir channel up/);
  });

  test('usage errors', async () => {
    const none = await bench(['recognition', uri]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /give exactly one device/);
    const ready = await bench(['recognition', uri, '--cd', '/x.iso', '--ready', 'MARK mounted']);
    assert.equal(ready.code, 2);
    assert.match(ready.stderr, /--ready needs --guest-log/);
    const missing = await bench(['recognition', uri, '--cd', join(tmp, 'nope.iso'), '--runs', '1']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /nope\.iso/);
  });
});
