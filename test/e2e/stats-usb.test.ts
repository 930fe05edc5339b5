// `usb redirect` with the numbers shown while it runs, against QEMU with a real Linux guest (one
// boot for the file): off a TTY, --stats-interval prints NDJSON lines with the USB panel's data
// (payload vs wire bytes per direction, LZ4 ratio, limit) and ends with the totals; on a terminal
// (tmux), the live view shows the USB panel, flashes the redirection, and q detaches cleanly.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot, startQemu, type QemuServer } from './harness/index.js';
import { BIN } from './spicectl.js';
import { makeFatImage, textFile } from './usb-images.js';

const haveTmux = spawnSync('tmux', ['-V']).status === 0;

async function until<T>(what: string, f: () => T, ms = 30_000, show: () => string = () => ''): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\n${show()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('usb redirect: stats lines and the USB panel (QEMU guest)', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'spicectl-usb-stats-'));
  let q: QemuServer;
  let uri: string;
  before(async () => {
    q = await startQemu({ usbredir: 1, append: 'guest.delay_use=0' });
    uri = `spice://127.0.0.1:${q.port}`;
  });
  after(async () => {
    await q?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  test('--stats-interval 500: NDJSON lines with payload vs wire, LZ4 ratio and limit; the last one has the totals', async () => {
    const img = makeFatImage(tmp, 'text.img', { 'text.txt': textFile(2 << 20) });
    const off = q.serialSize();
    const proc = spawn(process.execPath, [BIN, 'usb', 'redirect', uri, '--disk', img.path, '--ro', '--limit', '8MB/s', '--stats-interval', '500', '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CI: '1' },
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d) => (stdout += d));
    proc.stderr.on('data', (d) => (stderr += d));
    const done = new Promise<number | null>((r) => proc.on('close', r));
    const mounted = await q.waitMark('mounted', 60_000, off);
    await q.waitMark('read-done', 60_000, mounted.offset);
    // The read may take less than the three intervals the checks below want: let them pass.
    const statsLines = () => stdout.split('\n').filter((l) => l.includes('"uptimeMs"')).length;
    for (const t0 = Date.now(); statsLines() < 3 && Date.now() - t0 < 10_000; ) await new Promise((r) => setTimeout(r, 100));
    proc.kill('SIGINT');
    assert.equal(await done, 0, stderr);
    await q.waitMark('usb-detached', 30_000, off);

    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l));
    const report = lines.at(-1); // --json: the report, on one line, last
    assert.equal(report.ok, true);
    assert.ok(report.events.some((e: string) => /^redirected: emulated USB stick .*text\.img.* on usbredir:0 \(SuperSpeed, lz4\)$/.test(e)), JSON.stringify(report.events));
    const stats = lines.filter((l) => 'channels' in l && 'uptimeMs' in l);
    assert.ok(stats.length >= 3, `${stats.length} stats lines`);
    const withUsb = stats.filter((s) => s.usb.length === 1);
    assert.ok(withUsb.length >= 2);
    for (const s of withUsb) {
      const u = s.usb[0];
      assert.equal(u.channel, 'usbredir:0');
      assert.match(u.device, /^emulated USB stick .*text\.img/);
      assert.equal(u.lz4, true);
      assert.equal(u.limit, 8_000_000);
    }
    const last = stats.at(-1).usb[0];
    // The guest read 2 MiB of text: client->guest ("out") carries far more payload than wire
    // bytes (LZ4), and the ratio says so; QEMU sends its side uncompressed.
    assert.ok(last.payloadOut > 2_000_000, `payload out ${last.payloadOut}`);
    assert.ok(last.ratioOut > 1.5, `ratio out ${last.ratioOut}`);
    assert.equal(last.ratioOut, Math.round((last.payloadOut / last.wireOut) * 100) / 100);
    // The last line is the totals at the end: the same numbers as the report.
    assert.deepEqual(
      { payloadIn: last.payloadIn, payloadOut: last.payloadOut, wireIn: last.wireIn, wireOut: last.wireOut },
      { payloadIn: report.usb[0].payloadIn, payloadOut: report.usb[0].payloadOut, wireIn: report.usb[0].wireIn, wireOut: report.usb[0].wireOut },
    );
    const ch = stats.at(-1).channels.find((c: { channel: string }) => c.channel === 'usbredir:0');
    assert.ok(ch.bytesIn >= last.wireIn && ch.bytesOut >= last.wireOut, 'the channel carries the wire bytes plus headers');
  });

  test('on a terminal: the live view with the USB panel; q detaches and exits 0', { skip: haveTmux ? false : 'tmux is not installed' }, async () => {
    const img = makeFatImage(tmp, 'panel.img', { 'text.txt': textFile(1 << 20) });
    const sock = join(tmp, 'tmux.sock');
    const tmux = (...args: string[]) => execFileSync('tmux', ['-S', sock, ...args], { encoding: 'utf8' });
    const screen = () => tmux('capture-pane', '-p', '-t', 'usb');
    const rc = join(tmp, 'rc');
    writeFileSync(join(tmp, 'run.sh'), [
      `cd '${repoRoot}'`,
      `env -u CI node '${BIN}' usb redirect ${uri} --disk '${img.path}' --ro --limit 4MB/s`,
      `echo $? > '${rc}.tmp'`,
      `mv '${rc}.tmp' '${rc}'`,
      'exec sleep 600',
    ].join('\n'));
    const off = q.serialSize();
    tmux('-f', '/dev/null', 'new-session', '-d', '-s', 'usb', '-x', '120', '-y', '30', `sh '${join(tmp, 'run.sh')}'`);
    try {
      await until('the USB panel with the device', () => /emulated USB stick.*\s+in\s+.*\s+on\s+3\.8 MiB\/s/.test(screen()), 60_000, screen);
      await until('the redirection flashed in the status bar', () => /redirected: emulated USB stick/.test(screen()), 10_000, screen);
      const mounted = await q.waitMark('mounted', 60_000, off);
      await q.waitMark('read-done', 60_000, mounted.offset);
      await until('a ratio > 1 once the guest read the text', () => {
        const m = /^\s+usbredir:0\s+out\s+\S+ \S+\s+\S+ \S+\s+([\d.]+)x/m.exec(screen());
        return m && Number(m[1]) > 1.5;
      }, 30_000, screen);
      const s = screen();
      assert.match(s, /usb device\s+dir\s+payload\s+wire\s+ratio\s+lz4\s+limit/);
      assert.match(s, /usbredir:0\s+ready/, 'the channel table');
      assert.match(s, /^\s+usbredir:0\s+out\s/m, 'the out row of the device');
      // (the status bar comes back once the flashed "redirected: ..." notice is gone)
      await until('the status bar', () => /ping - │ display - │ mouse server │ agent no │ up \d+:\d\d/.test(screen()), 10_000, screen);
      tmux('send-keys', '-t', 'usb', 'q');
      await until('spicectl to exit', () => existsSync(rc), 30_000, screen);
      assert.equal(readFileSync(rc, 'utf8').trim(), '0');
      await q.waitMark('usb-detached', 30_000, off);
      // -J: lines the 120-column pane wrapped come back whole
      const after = tmux('capture-pane', '-p', '-J', '-t', 'usb');
      assert.match(after, /^redirected: emulated USB stick .* on usbredir:0 \(SuperSpeed, lz4\)$/m, 'the events, printed once the view is gone');
      assert.match(after, /^usbredir:0: guest->client payload \d+ B/m);
    } finally {
      spawnSync('tmux', ['-S', sock, 'kill-server']);
    }
  });
});
