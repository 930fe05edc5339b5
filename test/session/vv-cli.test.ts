// spicectl vv generate / check through their commander registration (src/commands/vv.ts),
// with stdout/stderr captured in-process.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { registerVv } from '../../src/commands/vv.js';
import { analyzeVv } from '../../src/session/vv.js';
import { SpiceError } from '../../src/util/errors.js';
import { createTestCa, type TestCa } from '../helpers/test-ca.js';

const tmp = mkdtempSync(join(tmpdir(), 'spicectl-vv-cli-'));

interface Result {
  code: number;
  stdout: string;
  stderr: string;
  error?: SpiceError;
}

async function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<Result> {
  const program = new Command().exitOverride().configureOutput({ writeErr: () => {} });
  registerVv(program);
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries({ SPICE_PASSWORD: undefined, ...env })) {
    saved[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  process.stdout.write = ((s: string) => ((stdout += s), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => ((stderr += s), true)) as typeof process.stderr.write;
  process.exitCode = undefined;
  try {
    await program.parseAsync(args, { from: 'user' });
    return { code: Number(process.exitCode ?? 0), stdout, stderr };
  } catch (e) {
    if (e instanceof SpiceError) return { code: e.exitCode, stdout, stderr, error: e };
    throw e;
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
    process.exitCode = undefined;
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

describe('spicectl vv generate', () => {
  let ca: TestCa;
  before(() => {
    ca = createTestCa(join(tmp, 'pki'));
  });
  after(() => {
    process.exitCode = undefined;
  });

  test('from a URI to stdout, flags override the URI, password from --password-env', async () => {
    const r = await cli(
      ['vv', 'generate', 'spice://vm.example:5900?tls-port=5901', '--port', '5910', '--password-env', 'MY_PW', '--title', 'My VM', '--ca-file', ca.caCertFile,
        '--host-subject', ca.subject, '--secure-channels', 'main,inputs', '--fullscreen', '--enable-usbredir', '--usb-filter', '0x03,-1,-1,-1,0|-1,-1,-1,-1,1',
        '--delete-this-file', '--toggle-fullscreen', 'shift+f11', '--release-cursor', 'shift+f12', '--hotkey', 'zoom-in=ctrl+plus',
        '--versions', 'rhel8:8.0;win:11.0', '--min-version', '8.0', '--proxy', 'http://proxy:3128'],
      { MY_PW: 's3cret' },
    );
    assert.equal(r.code, 0, r.error?.message);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /^# written by spicectl vv generate\n\[virt-viewer\]\ntype=spice\nhost=vm\.example\nport=5910\ntls-port=5901\npassword=s3cret\ntitle=My VM\nca=-----BEGIN CERTIFICATE-----\\n/);
    const { vv, findings } = analyzeVv(r.stdout, { mode: 0o600 });
    assert.deepEqual(findings, []);
    assert.deepEqual(vv!.secureChannels, ['main', 'inputs']);
    assert.deepEqual(vv!.hotkeys, { 'toggle-fullscreen': 'shift+f11', 'release-cursor': 'shift+f12', 'zoom-in': 'ctrl+plus' });
    assert.deepEqual(vv!.versions, [['rhel8', '8.0'], ['win', '11.0']]);
    assert.equal(vv!.ca, readFileSync(ca.caCertFile, 'utf8').replace(/\r\n/g, '\n'));
    assert.equal(vv!.deleteThisFile, true);
    assert.equal(vv!.usbFilter, '0x03,-1,-1,-1,0|-1,-1,-1,-1,1');
  });

  test('-o FILE is written with mode 0600, even over an existing 0644 file; SPICE_PASSWORD is a source', async () => {
    const out = join(tmp, 'out.vv');
    writeFileSync(out, 'old');
    chmodSync(out, 0o644);
    const r = await cli(['vv', 'generate', '--host', '10.0.0.1', '--port', '5900', '-o', out], { SPICE_PASSWORD: 'envpw' });
    assert.equal(r.code, 0, r.error?.message);
    assert.equal(r.stdout, '');
    assert.equal(statSync(out).mode & 0o777, 0o600);
    assert.match(readFileSync(out, 'utf8'), /\npassword=envpw\n/);
  });

  test('--password-file, and no password when there is no source', async () => {
    const pw = join(tmp, 'pw');
    writeFileSync(pw, 'from-file\n');
    const r = await cli(['vv', 'generate', 'spice+unix:///run/vm.sock', '--password-file', pw]);
    assert.equal(r.code, 0, r.error?.message);
    assert.match(r.stdout, /\nunix-path=\/run\/vm\.sock\npassword=from-file\n/);
    const r2 = await cli(['vv', 'generate', 'spice://h:1']);
    assert.ok(!r2.stdout.includes('password='));
  });

  test('a bad --usb-filter is a usage error (exit 2) naming the flag', async () => {
    const r = await cli(['vv', 'generate', 'spice://h:1', '--usb-filter', '0x03,-1,-1,0']);
    assert.equal(r.code, 2);
    assert.match(r.error!.message, /^vv generate: --usb-filter: filter rule 1 '0x03,-1,-1,0': expected 5 fields/);
    assert.equal(r.stdout, '');
  });

  test('missing host or ports, bad ports, bad hotkeys, bad --versions: exit 2', async () => {
    const cases: [string[], RegExp][] = [
      [['--port', '5900'], /--host: missing/],
      [['--host', 'h'], /--port: neither port= nor tls-port=/],
      [['--host', 'h', '--port', '70000'], /--port "70000": expected a port/],
      [['--host', 'h', '--port', '1', '--hotkey', 'explode=ctrl+x'], /--hotkey "explode=ctrl\+x": expected ACTION=KEYS/],
      [['--host', 'h', '--port', '1', '--versions', 'rhel8'], /--versions "rhel8": expected OSID:VERSION/],
      [['--host', 'h', '--port', '1', '--secure-channels', 'all'], /--secure-channels: channels are required to use TLS/],
      [['--host', 'h', '--port', '1', '--proxy', 'socks5://p'], /--proxy: unsupported scheme/],
      [['--host', 'h', '--port', '1', '--type', 'vnc'], /--type: "vnc": spicectl only handles SPICE/],
    ];
    for (const [args, re] of cases) {
      const r = await cli(['vv', 'generate', ...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.error?.message}`);
      assert.match(r.error!.message, re);
    }
  });

  test('a CA file that is not a certificate is an input error (exit 9); warnings go to stderr', async () => {
    const bad = join(tmp, 'not-a-ca.pem');
    writeFileSync(bad, 'hello\n');
    const r = await cli(['vv', 'generate', 'spice://h?tls-port=5901', '--ca-file', bad]);
    assert.equal(r.code, 9);
    assert.match(r.error!.message, /--ca-file: no PEM certificate/);
    const w = await cli(['vv', 'generate', 'spice+tls://h:5901']);
    assert.equal(w.code, 0);
    assert.match(w.stderr, /^spicectl: warning: --tls-port: no ca= given/);
  });
});

describe('spicectl vv check', () => {
  const file = (name: string, text: string, mode = 0o600) => {
    const p = join(tmp, name);
    writeFileSync(p, text);
    chmodSync(p, mode);
    return p;
  };

  test('a clean file: "FILE: ok", exit 0', async () => {
    const p = file('clean.vv', '[virt-viewer]\ntype=spice\nhost=vm\nport=5900\n');
    const r = await cli(['vv', 'check', p]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `${p}: ok\n`);
  });

  test('errors: "FILE: key: message" lines, exit 1; warnings alone keep exit 0 unless --strict', async () => {
    const bad = file('bad.vv', '[virt-viewer]\ntype=spice\nhost=vm\nport=59x0\nfullscreen=true\n');
    const r = await cli(['vv', 'check', bad]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stdout,
      `${bad}: port: "59x0" is not an integer: GLib cannot read it, remote-viewer would use 0\n` +
        `${bad}: fullscreen: "true" is not an integer: GLib reads it as 0, so this is OFF; write 1 (on) or 0 (off)\n`,
    );
    const warn = file('warn.vv', '[virt-viewer]\ntype=spice\nhost=vm\nport=5900\npassword=pw\n', 0o644);
    const w = await cli(['vv', 'check', warn]);
    assert.equal(w.code, 0);
    assert.equal(w.stdout, `${warn}: password: warning: a secret in a file every user can read (mode 0644): chmod 600 it\n${warn}: ok (1 warning)\n`);
    assert.equal((await cli(['vv', 'check', '--strict', warn])).code, 1);
  });

  test('several files, a missing one, and --json', async () => {
    const ok = file('ok2.vv', '[virt-viewer]\ntype=spice\nhost=vm\nport=5900\n');
    const missing = join(tmp, 'missing.vv');
    const r = await cli(['vv', 'check', '--json', ok, missing]);
    assert.equal(r.code, 1);
    const j = JSON.parse(r.stdout);
    assert.equal(j.ok, false);
    assert.deepEqual(j.files.map((f: { file: string; ok: boolean }) => [f.file, f.ok]), [[ok, true], [missing, false]]);
    assert.deepEqual(j.files[1].findings, [{ level: 'error', key: 'file', message: 'cannot read it: no such file' }]);
    const t = await cli(['vv', 'check', missing]);
    assert.equal(t.stdout, `${missing}: file: cannot read it: no such file\n`);
  });
});
