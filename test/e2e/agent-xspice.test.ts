// The SPICE agent end to end: Xspice with spice-vdagentd + spice-vdagent (the Linux guest agent
// running against Xspice's X display). Clipboard both ways (xclip on the X side), resolution
// (the X screen size), file copy (the agent's save folder), refusals, limits, a missing agent.
//
// Debian's Xspice wrapper crashes with --vdagent unless --auto is given (NameError temp_dir), and
// it forces XSPICE_VDAGENT_ENABLED=0 into the X server's environment. So the X server is started
// through a one-line --xorg wrapper that sets it back to 1, and the two agent daemons are started
// here, as the wrapper would: vdagentd with -X (no systemd-logind session here) and vdagent with
// its save folder (-f) and without opening it (-o 0).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startXspice, waitFor, xEnv, xdotool, type XspiceServer } from './harness/index.js';
import { spawnGroup, tail, type Spawned } from './harness/proc.js';
import { spicectl } from './spicectl.js';

const tmp = mkdtempSync(join(tmpdir(), 'spicectl-agent-'));

for (const tool of ['spice-vdagent', 'spice-vdagentd', 'xclip']) {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`]);
  } catch {
    throw new Error(`${tool} is missing: install the Debian packages spice-vdagent and xclip (scripts/install-deps.sh)`);
  }
}

interface AgentXspice {
  x: XspiceServer;
  uri: string;
  /** where the agent saves copied files */
  xferDir: string;
  logs: string;
  stop(): Promise<void>;
}

/** Xspice with the guest agent daemons attached to its display. */
async function startXspiceWithAgent(): Promise<AgentXspice> {
  const dir = mkdtempSync(join(tmpdir(), 'spicectl-vdagent-'));
  const xferDir = join(dir, 'xfer');
  mkdirSync(xferDir);
  const xorg = join(dir, 'xorg-with-agent.sh');
  writeFileSync(xorg, '#!/bin/sh\nXSPICE_VDAGENT_ENABLED=1 exec /usr/bin/Xorg "$@"\n', { mode: 0o755 });
  const virtio = join(dir, 'virtio');
  const uinput = join(dir, 'uinput');
  const udcs = join(dir, 'udcs');
  const x = await startXspice({ content: 'none', extraArgs: ['--xorg', xorg], env: { XSPICE_VDAGENT_VIRTIO_PATH: virtio, XSPICE_VDAGENT_UINPUT_PATH: uinput } });
  const env = xEnv(x.display);
  const daemons: Spawned[] = [];
  const logs = join(x.stateDir, 'vdagent.log');
  try {
    await waitFor(() => existsSync(virtio), 10_000, 'the X server\'s vdagent socket');
    daemons.push(spawnGroup('spice-vdagentd', ['-f', '-x', '-X', '-S', udcs, '-s', virtio, '-u', uinput], { env, logFile: logs }));
    await waitFor(() => existsSync(udcs), 10_000, 'spice-vdagentd\'s socket');
    daemons.push(spawnGroup('spice-vdagent', ['-x', '-f', xferDir, '-o', '0', '-s', virtio, '-S', udcs], { env, logFile: logs }));
    // vdagentd opens the virtio port (the server then reports an agent) once vdagent told it the resolution.
    await waitFor(() => /opening vdagent virtio channel/.test(readFileSync(logs, 'utf8')), 15_000, 'the agent to connect', 100);
  } catch (e) {
    await Promise.all(daemons.map((d) => d.stop(1000)));
    await x.stop();
    throw new Error(`${(e as Error).message}\n${tail(logs)}`);
  }
  return {
    x,
    uri: `spice://127.0.0.1:${x.port}`,
    xferDir,
    logs,
    stop: async () => {
      await Promise.all(daemons.map((d) => d.stop(1000)));
      await x.stop();
    },
  };
}

/** Runs xclip on the X display; resolves with its stdout. */
function xclip(display: string, args: string[], input?: Buffer | string): Promise<string> {
  return new Promise((resolve, reject) => {
    // xclip -o never reads stdin and may exit before a write to it lands: no pipe then (EPIPE).
    const p = spawn('xclip', args, { env: xEnv(display), stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    const t = setTimeout(() => p.kill('SIGKILL'), 20_000);
    p.on('close', (code) => {
      clearTimeout(t);
      if (code === 0) resolve(out);
      else reject(new Error(`xclip ${args.join(' ')} exited ${code}: ${err}`));
    });
    p.on('error', reject);
    if (p.stdin) {
      p.stdin.on('error', () => {}); // the exit code tells what happened
      p.stdin.end(input);
    }
  });
}

/** Offers data on the X clipboard from an xclip that stays until stop() (or 5 requests). */
function xclipOffer(display: string, data: Buffer | string, target = 'UTF8_STRING'): { stop(): void } {
  const p = spawn('xclip', ['-i', '-selection', 'clipboard', '-t', target, '-loops', '5'], { env: xEnv(display), stdio: ['pipe', 'ignore', 'ignore'] });
  p.stdin.on('error', () => {}); // an xclip that died shows up as a wrong clipboard in the test
  p.stdin.end(data);
  return { stop: () => p.kill() };
}

describe('the guest agent on Xspice (spice-vdagent)', () => {
  let a: AgentXspice;
  before(async () => {
    a = await startXspiceWithAgent();
  });
  after(() => a?.stop());

  test('clipboard set: the text appears in the X clipboard (xclip -o)', async () => {
    const text = 'héllo from spicectl\nline 2 ✓';
    const set = spicectl(['clipboard', 'set', a.uri, text, '--pastes', '1', '--timeout', '20']);
    // The client owns the clipboard once the agent has taken its grab.
    const got = await waitFor(async () => (await xclip(a.x.display, ['-o', '-selection', 'clipboard']).catch(() => '')) || undefined, 15_000, 'the X clipboard', 200);
    assert.equal(got, text);
    const r = await set;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ok: clipboard served 1 time \(1 paste served\)/);
  });

  test('clipboard get: X clipboard text comes back exactly', async () => {
    const text = 'from the X side\n\ttabbed ü';
    const offer = xclipOffer(a.x.display, text);
    await new Promise((r) => setTimeout(r, 300));
    const r = await spicectl(['clipboard', 'get', a.uri, '--timeout', '20']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, text);
    offer.stop();
  });

  test('clipboard get --image: a PNG on the X clipboard arrives byte for byte', async () => {
    const png = join(tmp, 'red.png');
    execFileSync('convert', ['-size', '40x30', 'xc:red', `PNG24:${png}`]);
    const offer = xclipOffer(a.x.display, readFileSync(png), 'image/png');
    await new Promise((r) => setTimeout(r, 300));
    const out = join(tmp, 'got.png');
    const r = await spicectl(['clipboard', 'get', a.uri, '--image', out, '--json', '--timeout', '20']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).type, 'png');
    assert.deepEqual(readFileSync(out), readFileSync(png));
    offer.stop();
  });

  test('connect --resolution 800x600: the X screen takes that size; mouse mode is client with the agent up', async () => {
    const r = await spicectl(['connect', a.uri, '--resolution', '800x600', '--duration', '1', '--json', '--no-tui', '--timeout', '30']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.agent.agent, 'ready');
    assert.equal(j.agent.resolution, 'ok');
    assert.equal(j.mouseMode, 'client');
    await waitFor(async () => (await xdotool(a.x.display, ['getdisplaygeometry'])) === '800 600', 10_000, 'an 800x600 X screen', 200);
    // and back, so other tests see the usual size
    const back = await spicectl(['connect', a.uri, '--resolution', '1024x768', '--duration', '1', '--json', '--no-tui', '--timeout', '30']);
    assert.equal(back.code, 0, back.stderr);
    await waitFor(async () => (await xdotool(a.x.display, ['getdisplaygeometry'])) === '1024 768', 10_000, 'a 1024x768 X screen', 200);
  });

  test('connect --clipboard-set @FILE offers the file\'s text while connected', async () => {
    const f = join(tmp, 'clip.txt');
    writeFileSync(f, 'text from a file');
    const conn = spicectl(['connect', a.uri, '--clipboard-set', `@${f}`, '--duration', '4', '--json', '--no-tui', '--timeout', '30']);
    // Whatever happens, this client is gone before the next test connects (one client at a time).
    const got = await waitFor(async () => (await xclip(a.x.display, ['-o', '-selection', 'clipboard']).catch(() => '')) === 'text from a file' || undefined, 15_000, 'the X clipboard', 200).finally(() => conn);
    assert.ok(got);
    const r = await conn;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).agent.clipboard, 'offered');
  });

  test('copy: files arrive in the agent\'s folder with the same bytes; progress on stderr', async () => {
    const data = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7919) & 0xff));
    const f1 = join(tmp, 'payload.bin');
    const f2 = join(tmp, 'empty.txt');
    writeFileSync(f1, data);
    writeFileSync(f2, '');
    const r = await spicectl(['copy', a.uri, f1, f2, '--timeout', '20']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /copied .*payload\.bin \(293\.0 KiB\)/);
    assert.match(r.stderr, /copy: payload\.bin 100% \(293\.0 KiB of 293\.0 KiB\)/);
    await waitFor(() => existsSync(join(a.xferDir, 'empty.txt')), 5000, 'the copied files');
    assert.deepEqual(readFileSync(join(a.xferDir, 'payload.bin')), data);
    assert.equal(readFileSync(join(a.xferDir, 'empty.txt')).length, 0);
  });

  test('copy refused (not enough space for a 1 TiB sparse file): a clear error, and the next file still goes', async () => {
    const huge = join(tmp, 'huge.img');
    execFileSync('truncate', ['-s', '1T', huge]);
    const small = join(tmp, 'after.txt');
    writeFileSync(small, 'still works\n');
    const r = await spicectl(['copy', a.uri, huge, small, '--json', '--timeout', '20']);
    assert.equal(r.code, 9, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.files[0].ok, false);
    assert.match(j.files[0].error.message, /^huge\.img: not enough space in the guest \([\d.]+ [KMGT]iB free\)$/);
    assert.equal(j.files[1].ok, true);
    assert.equal(readFileSync(join(a.xferDir, 'after.txt'), 'utf8'), 'still works\n');
    rmSync(huge);
  });

  test('copy refused (the agent cannot write its folder): exit 9 with the agent\'s answer', async () => {
    rmSync(a.xferDir, { recursive: true, force: true });
    writeFileSync(a.xferDir, 'not a folder');
    try {
      const f = join(tmp, 'x.txt');
      writeFileSync(f, 'x');
      const r = await spicectl(['copy', a.uri, f, '--timeout', '20']);
      assert.equal(r.code, 9, r.stderr);
      assert.match(r.stderr, /^spicectl: x\.txt: the guest agent could not write the file/m);
    } finally {
      rmSync(a.xferDir, { force: true });
      mkdirSync(a.xferDir);
    }
  });

  test('oversized clipboard data: refused to send, and the agent withholds what is over --max-clipboard', async () => {
    const set = await spicectl(['clipboard', 'set', a.uri, 'longer than four', '--max-clipboard', '4', '--timeout', '20']);
    assert.equal(set.code, 9);
    assert.match(set.stderr, /clipboard text data is 16 B, over the 4 B limit \(--max-clipboard\)/);
    const offer = xclipOffer(a.x.display, 'this is more than four bytes');
    await new Promise((r) => setTimeout(r, 300));
    const get = await spicectl(['clipboard', 'get', a.uri, '--max-clipboard', '4', '--timeout', '20']);
    assert.equal(get.code, 9);
    assert.match(get.stderr, /the guest agent sent no text: the clipboard is empty or larger than the 4 B limit \(--max-clipboard\)/);
    offer.stop();
  });
});

describe('no guest agent (plain Xspice)', () => {
  let x: XspiceServer;
  before(async () => {
    x = await startXspice({ content: 'none' });
  });
  after(() => x?.stop());

  test('clipboard get and copy: a clear timeout naming the agent', async () => {
    const r = await spicectl(['clipboard', 'get', `spice://127.0.0.1:${x.port}`, '--timeout', '3']);
    assert.equal(r.code, 7);
    assert.match(r.stderr, /no guest agent connected within [\d.]+ s: is spice-vdagent running in the guest/);
    const f = join(tmp, 'nobody.txt');
    writeFileSync(f, 'x');
    const c = await spicectl(['copy', `spice://127.0.0.1:${x.port}`, f, '--timeout', '3']);
    assert.equal(c.code, 7);
  });

  test('connect --clipboard-set / --resolution: a warning, the session goes on, exit 7 at the end', async () => {
    const r = await spicectl(['connect', `spice://127.0.0.1:${x.port}`, '--clipboard-set', 'x', '--resolution', '800x600', '--check', '--json', '--no-tui', '--timeout', '40']);
    assert.equal(r.code, 7, r.stderr);
    assert.match(r.stderr, /^spicectl: warning: guest agent: no guest agent connected within 10 s.*\(the session goes on\)$/m);
    const j = JSON.parse(r.stdout);
    assert.equal(j.agent.agent, 'absent');
    assert.ok(j.display.width > 0, 'the first frame was still drawn');
    assert.equal(j.channels.find((c: { type: string }) => c.type === 'display').state, 'ready');
  });
});
