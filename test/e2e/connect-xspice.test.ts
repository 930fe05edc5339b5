// spicectl connect against real Xspice servers: checks, JSON, pixel-exact screenshots,
// typing into an xterm, passwords and the documented exit codes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startXspice, startXterm, xImport, waitFor, type XspiceServer } from './harness/index.js';
import { pngDiff, spicectl } from './spicectl.js';

const tmp = mkdtempSync(join(tmpdir(), 'spicectl-connect-'));
const uri = (s: XspiceServer) => `spice://127.0.0.1:${s.port}`;

describe('connect to Xspice without a password', () => {
  let x: XspiceServer;
  before(async () => {
    x = await startXspice({ content: 'static' });
  });
  after(() => x?.stop());

  test('--check --json: main, display, inputs, cursor up, first frame drawn, exit 0', async () => {
    const r = await spicectl(['connect', uri(x), '--check', '--json', '--timeout', '20']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.ok, true);
    assert.equal(typeof j.sessionId, 'number');
    const states = Object.fromEntries(j.channels.map((c: { type: string; state: string }) => [c.type, c.state]));
    assert.deepEqual(states, { main: 'ready', display: 'ready', inputs: 'ready', cursor: 'ready' });
    const display = j.channels.find((c: { type: string }) => c.type === 'display');
    assert.ok(display.stats.in.bytes > 10_000, 'the display carried a frame');
    assert.ok(display.caps.channel.includes(6), 'server PREF_COMPRESSION cap reported');
    assert.equal(j.display.width, 1024);
    assert.equal(j.display.height, 768);
    assert.ok(j.timings.firstFrameMs > 0 && j.timings.firstFrameMs >= j.timings.mainReadyMs);
    assert.ok(j.display.imageCodecs.lz4 >= 1, `LZ4 images steered: ${JSON.stringify(j.display.imageCodecs)}`);
    assert.equal(j.mouseMode, 'server');
    assert.equal(r.stderr, '', 'nothing on stderr at the default log level');
  });

  test('--screenshot equals the X server framebuffer pixel for pixel', async () => {
    const shot = join(tmp, 'spicectl.png');
    const ref = join(tmp, 'xserver.png');
    const r = await spicectl(['connect', uri(x), '--screenshot', shot, '--timeout', '20']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /screenshot/);
    await xImport(x.display, ref);
    const d = pngDiff(shot, ref);
    assert.equal(d.width, 1024);
    assert.equal(d.differing, 0, `${d.differing} pixels differ`);
  });

  test('keys typed through the inputs channel reach an xterm', async () => {
    const marker = join(tmp, 'typed-by-spicectl');
    const term = await startXterm(x.display, { command: ['bash', '--norc', '--noprofile'], geometry: '60x5+500+500' });
    try {
      const r = await spicectl(['connect', uri(x), '--type', `touch ${marker}\\n`, '--timeout', '20']);
      assert.equal(r.code, 0, r.stderr);
      await waitFor(() => existsSync(marker), 5000, 'the file typed into the xterm');
    } finally {
      await term.stop();
    }
  });

  test('a second client takes over: the first exits 8 (disconnected by the server)', async () => {
    const first = spicectl(['connect', uri(x), '--duration', '30']);
    await new Promise((r) => setTimeout(r, 1500));
    const second = await spicectl(['connect', uri(x), '--check', '--timeout', '20']);
    assert.equal(second.code, 0, second.stderr);
    const r = await first;
    assert.equal(r.code, 8, r.stderr);
    assert.match(r.stderr, /^spicectl: .*closed/m);
  });

  test('bad usage exits 2 with one line', async () => {
    const r = await spicectl(['connect', 'http://nope']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /not a SPICE URI/);
    const r2 = await spicectl(['connect', uri(x), '--type', 'ü']);
    assert.equal(r2.code, 2);
  });
});

describe('connect to Xspice with a password', () => {
  let x: XspiceServer;
  before(async () => {
    x = await startXspice({ content: 'none', password: 'pass word' });
  });
  after(() => x?.stop());

  test('no password: exit 4 and a hint where to give one', async () => {
    const r = await spicectl(['connect', uri(x), '--check', '--timeout', '20']);
    assert.equal(r.code, 4);
    assert.match(r.stderr, /needs a password.*--password-file/);
  });

  test('wrong password: exit 4', async () => {
    const r = await spicectl(['connect', uri(x), '--check', '--timeout', '20', '--json'], { env: { SPICE_PASSWORD: 'wrong' } });
    assert.equal(r.code, 4);
    assert.match(r.stderr, /refused the password/);
    const j = JSON.parse(r.stdout);
    assert.equal(j.ok, false);
    assert.equal(j.error.exitCode, 4);
    assert.ok(!r.stdout.includes('wrong') && !r.stderr.includes('wrong'), 'the password never appears in output');
  });

  test('right password from a file, an env var, stdin and SPICE_PASSWORD: exit 0', async () => {
    const f = join(tmp, 'pw');
    writeFileSync(f, 'pass word\n', { mode: 0o600 });
    for (const [args, env, input] of [
      [['--password-file', f], {}, ''],
      [['--password-env', 'MY_PW'], { MY_PW: 'pass word' }, ''],
      [['--password-stdin'], {}, 'pass word\n'],
      [[], { SPICE_PASSWORD: 'pass word' }, ''],
    ] as [string[], Record<string, string>, string][]) {
      const r = await spicectl(['connect', uri(x), '--check', '--timeout', '20', ...args], { env, input });
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    }
  });
});

describe('exit codes without a SPICE server', () => {
  test('refused: 3; unknown host: 3', async () => {
    const srv = net.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as net.AddressInfo).port;
    await new Promise((r) => srv.close(r));
    const r = await spicectl(['connect', `spice://127.0.0.1:${port}`, '--check']);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /nothing listens there/);
    const r2 = await spicectl(['connect', 'spice://no-such-host.invalid:5900', '--check']);
    assert.equal(r2.code, 3);
  });

  test('not a SPICE server: 6; a silent server: 7 (timeout)', async () => {
    const http = net.createServer((s) => s.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    const silent = net.createServer(() => {});
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const r = await spicectl(['connect', `spice://127.0.0.1:${(http.address() as net.AddressInfo).port}`, '--check']);
      assert.equal(r.code, 6, r.stderr);
      assert.match(r.stderr, /not a SPICE server/);
      const r2 = await spicectl(['connect', `spice://127.0.0.1:${(silent.address() as net.AddressInfo).port}`, '--check', '--timeout', '1']);
      assert.equal(r2.code, 7, r2.stderr);
      assert.match(r2.stderr, /timed out after 1 s/);
    } finally {
      http.close();
      silent.close();
    }
  });
});
