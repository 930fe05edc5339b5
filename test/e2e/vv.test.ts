// .vv connection files end to end: `spicectl vv generate` writes them, `spicectl vv check` passes
// them, and the REFERENCE client, remote-viewer (under Xvfb), connects with them to a real QEMU
// SPICE server: plain, and Proxmox-style (HTTP CONNECT proxy with basic auth + tls-port + inline
// CA + host-subject + password + delete-this-file). QMP SPICE_INITIALIZED events prove who
// connected, on which port, with TLS or not; the test proxy counts the tunnels.
// `spicectl connect FILE.vv` runs the same Proxmox-style file (todo until connect accepts .vv).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QmpClient, findWindows, makeStateDir, startQemu, waitFor, xImport, type QemuServer, type QmpEvent } from './harness/index.js';
import { spawnGroup, tail, type Spawned } from './harness/proc.js';
import { createTestCa, type TestCa } from '../helpers/test-ca.js';
import { startHttpProxy, type HttpProxy } from '../helpers/http-proxy.js';
import { spicectl } from './spicectl.js';

const tmp = mkdtempSync(join(tmpdir(), 'spicectl-vv-e2e-'));
const PASSWORD = 'vv-s3cret';
// Plain characters: spice-gtk sends proxy credentials as written, without %-decoding.
const PROXY_USER = { user: 'pve', password: 'proxy-pass' };
const PVE_CHANNELS = 'main;inputs;cursor;playback;record;display;usbredir;smartcard';

// Until src/main.ts registers `vv` and connect.ts accepts a .vv file, those tests are todo.
const vvWired = (await spicectl(['vv', '--help'])).stdout.includes('generate');
const connectWired = (await spicectl(['connect', '--help'])).stdout.includes('.vv');
const todoVv = vvWired ? undefined : 'src/main.ts does not register the vv command yet';
const todoConnect = connectWired ? undefined : 'spicectl connect does not accept .vv files yet';

interface Xvfb {
  display: string;
  stop(): Promise<void>;
}

async function startXvfb(stateDir: string): Promise<Xvfb> {
  let n = 170;
  while (existsSync(`/tmp/.X${n}-lock`) || existsSync(`/tmp/.X11-unix/X${n}`)) n++;
  const log = join(stateDir, 'xvfb.log');
  const p = spawnGroup('Xvfb', [`:${n}`, '-screen', '0', '1024x768x24', '-nolisten', 'tcp'], { logFile: log });
  await waitFor(() => {
    if (!p.running()) throw new Error(`Xvfb exited:\n${tail(log)}`);
    return existsSync(`/tmp/.X11-unix/X${n}`);
  }, 15_000, `Xvfb :${n}`);
  return { display: `:${n}`, stop: () => p.stop() };
}

/** remote-viewer FILE on the Xvfb display, with a private HOME (it saves settings there). */
function startRemoteViewer(display: string, file: string, stateDir: string): Spawned & { log: string } {
  const home = join(stateDir, 'home');
  mkdirSync(home, { recursive: true });
  const log = join(stateDir, `remote-viewer-${Date.now()}.log`);
  const env: NodeJS.ProcessEnv = { ...process.env, DISPLAY: display, HOME: home, XDG_RUNTIME_DIR: stateDir, XDG_CONFIG_HOME: join(home, '.config'), NO_AT_BRIDGE: '1', GDK_BACKEND: 'x11' };
  delete env.XAUTHORITY;
  delete env.SPICE_PROXY;
  delete env.VIRT_VIEWER_KEEP_FILE;
  return Object.assign(spawnGroup('remote-viewer', ['--debug', file], { env, logFile: log }), { log });
}

describe('.vv files with remote-viewer and a real QEMU SPICE server', () => {
  let q: QemuServer;
  let ca: TestCa;
  let proxy: HttpProxy;
  let x: Xvfb;
  let qmpEvents: QmpClient;
  let stateDir: string;

  before(async () => {
    stateDir = makeStateDir('vv');
    ca = createTestCa(join(tmp, 'pki'));
    [q, proxy] = await Promise.all([startQemu({ tls: { dir: ca.dir }, password: PASSWORD }), startHttpProxy({ auth: PROXY_USER })]);
    qmpEvents = await QmpClient.connect(q.qmpEventsSocket);
    x = await startXvfb(stateDir);
  });
  after(async () => {
    qmpEvents?.close();
    await Promise.all([q?.stop(), proxy?.close(), x?.stop()]);
  });

  /** SPICE_INITIALIZED events (the server authenticated a channel) from now on; call to stop. */
  function watchInits(): { inits: QmpEvent[]; stop(): void } {
    const inits: QmpEvent[] = [];
    const stop = qmpEvents.onEvent((e) => {
      if (e.event === 'SPICE_INITIALIZED') inits.push(e);
    });
    return { inits, stop };
  }

  const channelType = (e: QmpEvent) => (e.data as { client: { 'channel-type': number } }).client['channel-type'];

  /** Wait until the server has no client left (it serves one at a time). */
  async function serverIdle(): Promise<void> {
    await waitFor(async () => (await q.qmp<{ channels?: unknown[] }>('query-spice')).channels?.length === 0, 15_000, 'the SPICE server to have no client');
  }

  async function generate(name: string, args: string[], env: Record<string, string> = {}): Promise<string> {
    const file = join(tmp, name);
    const r = await spicectl(['vv', 'generate', ...args, '-o', file], { env: { VV_PW: PASSWORD, ...env } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(statSync(file).mode & 0o777, 0o600, 'written 0600');
    return file;
  }

  function proxmoxArgs(title: string): string[] {
    return [
      `spice://127.0.0.1?tls-port=${q.tlsPort}`, '--password-env', 'VV_PW', '--ca-file', ca.caCertFile, '--host-subject', ca.subject,
      '--secure-channels', PVE_CHANNELS, '--proxy', proxy.url, '--delete-this-file', '--title', title,
      '--toggle-fullscreen', 'shift+f11', '--release-cursor', 'ctrl+alt+r', '--hotkey', 'secure-attention=ctrl+alt+ins',
    ];
  }

  test('generate + check: a plain file is valid, 0600, and says what remote-viewer needs', { todo: todoVv }, async () => {
    const file = await generate('plain.vv', [`spice://127.0.0.1:${q.port}`, '--password-env', 'VV_PW', '--title', 'spicectl vv plain', '--delete-this-file']);
    const text = readFileSync(file, 'utf8');
    assert.match(text, new RegExp(`^# written by spicectl vv generate\\n\\[virt-viewer\\]\\ntype=spice\\nhost=127\\.0\\.0\\.1\\nport=${q.port}\\npassword=${PASSWORD}\\n`));
    const r = await spicectl(['vv', 'check', file]);
    assert.equal(r.code, 0, r.stdout);
    assert.equal(r.stdout, `${file}: ok\n`);
  });

  test('remote-viewer opens a generated plain file: authenticated on the plain port, file deleted, window titled', { todo: todoVv, timeout: 90_000 }, async () => {
    await serverIdle();
    const file = await generate('rv-plain.vv', [`spice://127.0.0.1:${q.port}`, '--password-env', 'VV_PW', '--title', 'spicectl vv plain', '--delete-this-file']);
    const w = watchInits();
    const rv = startRemoteViewer(x.display, file, stateDir);
    try {
      await waitFor(() => {
        if (!rv.running()) throw new Error(`remote-viewer exited:\n${tail(rv.log)}`);
        return w.inits.some((e) => channelType(e) === 2);
      }, 60_000, 'remote-viewer to authenticate main and display');
      await waitFor(async () => (await findWindows(x.display, 'spicectl vv plain')).length > 0, 30_000, 'the remote-viewer window titled from the file');
      const shot = await xImport(x.display, join(stateDir, 'rv-plain.png'));
      assert.equal(shot.width, 1024);
    } finally {
      w.stop();
      await rv.stop();
    }
    const main = w.inits.filter((e) => channelType(e) === 1);
    assert.equal(main.length, 1, `main channel initialized once: ${JSON.stringify(w.inits)}`);
    const d = main[0]!.data as { server: { port: string; auth: string }; client: { tls: boolean } };
    assert.equal(Number(d.server.port), q.port);
    assert.equal(d.server.auth, 'spice');
    assert.equal(d.client.tls, false);
    assert.equal(existsSync(file), false, 'delete-this-file=1 honoured by remote-viewer');
  });

  test('Proxmox-style file: check passes; remote-viewer connects through the authenticating proxy, every channel TLS-verified', { todo: todoVv, timeout: 90_000 }, async () => {
    await serverIdle();
    const file = await generate('pve.vv', proxmoxArgs('spicectl vv proxmox'));
    const text = readFileSync(file, 'utf8');
    assert.match(text, /\nca=-----BEGIN CERTIFICATE-----\\n[^\n]+-----END CERTIFICATE-----\\n\n/);
    assert.match(text, new RegExp(`\\nsecure-channels=${PVE_CHANNELS};\\n`));
    const check = await spicectl(['vv', 'check', '--json', file]);
    assert.equal(check.code, 0, check.stdout);
    assert.deepEqual(JSON.parse(check.stdout).files[0].findings, []);

    const tunnelsBefore = proxy.tunnels;
    const reqStart = proxy.requests.length;
    const w = watchInits();
    const inits = w.inits;
    const rv = startRemoteViewer(x.display, file, stateDir);
    try {
      // main, display, inputs, cursor (+ usbredir ports): at least 4 channels authenticated
      await waitFor(() => {
        if (!rv.running()) throw new Error(`remote-viewer exited:\n${tail(rv.log)}`);
        return [1, 2, 3, 4].every((t) => inits.some((e) => channelType(e) === t));
      }, 60_000, 'remote-viewer to open main, display, inputs and cursor');
    } finally {
      w.stop();
      await rv.stop();
    }
    for (const e of inits) {
      const d = e.data as { server: { port: string }; client: { tls: boolean; 'channel-type': number } };
      assert.equal(d.client.tls, true, `channel type ${d.client['channel-type']} on TLS`);
      assert.equal(Number(d.server.port), q.tlsPort);
    }
    assert.ok(proxy.tunnels - tunnelsBefore >= inits.length, `every channel through the proxy (${proxy.tunnels - tunnelsBefore} tunnels)`);
    for (const r of proxy.requests.slice(reqStart)) {
      assert.equal(r.target, `127.0.0.1:${q.tlsPort}`);
      assert.equal(r.credentials, `${PROXY_USER.user}:${PROXY_USER.password}`);
      assert.equal(r.status, 200);
    }
    assert.equal(existsSync(file), false, 'delete-this-file=1 honoured');
  });

  test('spicectl connect FILE.vv --check: the same Proxmox-style file through the proxy, TLS, file deleted', { todo: todoConnect, timeout: 90_000 }, async () => {
    await serverIdle();
    const file = await generate('pve-spicectl.vv', proxmoxArgs('spicectl vv proxmox'));
    const tunnelsBefore = proxy.tunnels;
    const r = await spicectl(['connect', file, '--check', '--json', '--timeout', '60'], { timeoutMs: 80_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '', 'a clean file gives no warnings');
    const j = JSON.parse(r.stdout);
    assert.ok(j.channels.length >= 4);
    for (const c of j.channels) assert.equal(c.tls, true, `${c.type} on TLS`);
    assert.ok(proxy.tunnels - tunnelsBefore >= j.channels.length, 'through the proxy');
    assert.equal(existsSync(file), false, 'delete-this-file=1 honoured');
  });

  test('spicectl connect - reads the file from stdin; SPICE_PROXY is the fallback proxy', { todo: todoConnect, timeout: 90_000 }, async () => {
    await serverIdle();
    const file = await generate('stdin.vv', [`spice://127.0.0.1?tls-port=${q.tlsPort}`, '--password-env', 'VV_PW', '--ca-file', ca.caCertFile, '--host-subject', ca.subject]);
    const tunnelsBefore = proxy.tunnels;
    const r = await spicectl(['connect', '-', '--check', '--timeout', '60'], { input: readFileSync(file, 'utf8'), env: { SPICE_PROXY: proxy.url }, timeoutMs: 80_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(proxy.tunnels > tunnelsBefore, 'SPICE_PROXY used');
    assert.ok(existsSync(file), 'nothing deleted');
  });

  test('spicectl connect with broken .vv files: one line naming file and key, documented exit codes', { todo: todoConnect }, async () => {
    const bad = join(tmp, 'broken.vv');
    writeFileSync(bad, `[virt-viewer]\ntype=spice\nhost=127.0.0.1\nport=${q.port}x\n`);
    const r = await spicectl(['connect', bad, '--check']);
    assert.equal(r.code, 9, r.stderr);
    assert.equal(r.stderr, `spicectl: ${bad}: port: "${q.port}x" is not an integer: GLib cannot read it, remote-viewer would use 0\n`);
    const badCa = join(tmp, 'bad-ca.vv');
    writeFileSync(badCa, `[virt-viewer]\ntype=spice\nhost=127.0.0.1\ntls-port=${q.tlsPort}\nca=junk\n`);
    const r2 = await spicectl(['connect', badCa, '--check']);
    assert.equal(r2.code, 5, r2.stderr);
    assert.match(r2.stderr, /ca: no PEM certificate/);
    const wrongProxy = join(tmp, 'proxy-auth.vv');
    writeFileSync(wrongProxy, `[virt-viewer]\ntype=spice\nhost=127.0.0.1\nport=${q.port}\nproxy=${proxy.bareUrl}\n`);
    const r3 = await spicectl(['connect', wrongProxy, '--check', '--timeout', '20'], { env: { SPICE_PASSWORD: PASSWORD } });
    assert.equal(r3.code, 4, r3.stderr);
    assert.match(r3.stderr, /proxy 127\.0\.0\.1:\d+ requires credentials \(407/);
  });
});
