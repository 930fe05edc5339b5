// .vv connection files: GLib key-file syntax (expected values measured against libglib 2.74),
// typed parsing, serializing, linting (each broken file gives exactly one clear error), and
// loading for `spicectl connect`.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  escapeString,
  escapeStringList,
  getEntry,
  getGroup,
  parseKeyFile,
  readInteger,
  readString,
  readStringList,
  serializeKeyFile,
} from '../../src/session/keyfile.js';
import {
  analyzeVv,
  formatFinding,
  lintVv,
  loadVvForConnect,
  looksLikeVvPath,
  parseVv,
  serializeVv,
  vvToConnectOptions,
  type VvFile,
  type VvFinding,
} from '../../src/session/vv.js';
import { SpiceError } from '../../src/util/errors.js';
import { createTestCa, type TestCa } from '../helpers/test-ca.js';

const tmp = mkdtempSync(join(tmpdir(), 'spicectl-vv-'));
const errors = (f: VvFinding[]) => f.filter((x) => x.level === 'error');
const lf = (pem: string) => pem.replace(/\r\n/g, '\n');
const escCa = (pem: string) => lf(pem).trim().split('\n').join('\\n') + '\\n';

describe('GLib key-file syntax', () => {
  test('groups, comments, blanks around keys and values, CRLF, repeats', () => {
    const kf = parseKeyFile('# top\n\n  [virt-viewer]  \r\n\t type = spice\r\n  # indented comment\ntitle=\t a b  \nhost=first\nhost=second\n[x-mine]\nk=v\n[virt-viewer]\nport=1');
    assert.deepEqual(kf.errors, []);
    assert.deepEqual(kf.groups.map((g) => g.name), ['virt-viewer', 'x-mine']);
    const g = getGroup(kf, 'virt-viewer')!;
    assert.deepEqual(g.repeatedAt, [11]);
    assert.equal(getEntry(g, 'type')!.raw, 'spice');
    assert.equal(getEntry(g, 'title')!.raw, 'a b  ', 'leading blanks dropped, trailing kept');
    assert.equal(getEntry(g, 'host')!.raw, 'second', 'the last one wins');
    assert.equal(getEntry(g, 'host')!.line, 8);
    assert.equal(getEntry(g, 'port')!.raw, '1');
  });

  test('a CR is dropped only before a LF; "==" keeps the second "=" in the value; locale keys', () => {
    const kf = parseKeyFile('[g]\na=1\r\nb==v\nc[de]=x\nd=2\r');
    const g = kf.groups[0]!;
    assert.equal(getEntry(g, 'a')!.raw, '1');
    assert.equal(getEntry(g, 'b')!.raw, '=v');
    assert.equal(getEntry(g, 'c'), undefined);
    assert.equal(g.entries.find((e) => e.key === 'c')!.locale, 'de');
    assert.equal(getEntry(g, 'd')!.raw, '2\r');
  });

  test('every line GLib rejects is one error with its line number', () => {
    const cases: [string, number, RegExp][] = [
      ['type=spice\n[virt-viewer]\n', 1, /comes before any \[group\]/],
      ['[virt-viewer]\n; note\n', 2, /';' does not start a comment/],
      ['[virt-viewer]\ntype spice\n', 2, /is not a key=value pair/],
      ['[virt-viewer\ntype=spice\n', 1, /not a group header/],
      ['[virt-viewer]x\n', 1, /not a group header/],
      ['[]\n', 1, /invalid group name/],
      ['[a[b]\n', 1, /invalid group name/],
      ['[g]\n=v\n', 2, /key before '=' is empty/],
      ['[g]\nk]=v\n', 2, /invalid key name/],
      ['\ufeff[virt-viewer]\ntype=spice\n', 1, /byte order mark/],
    ];
    for (const [text, line, re] of cases) {
      const { errors: errs } = parseKeyFile(text);
      assert.equal(errs.length, 1, JSON.stringify(text));
      assert.equal(errs[0]!.line, line, JSON.stringify(text));
      assert.match(errs[0]!.message, re);
    }
  });

  test('string escapes as GLib reads them', () => {
    assert.equal(readString('x\\sy\\n\\t\\r\\\\z'), 'x y\n\t\r\\z');
    assert.equal(readString('\\s lead'), '  lead');
    assert.equal(readString('a;b'), 'a;b');
    assert.throws(() => readString('x\\q'), /invalid escape "\\q"/);
    assert.throws(() => readString('x\\;y'), /only valid in a string list/);
    assert.throws(() => readString('trail\\'), /lone backslash/);
  });

  test('integers as g_key_file_get_integer reads them', () => {
    const ok: [string, number][] = [['12 ', 12], ['+5', 5], ['-3', -3], ['01', 1], ['0005', 5], ['1 x', 1], ['5\t', 5], ['-0', 0], ['-2147483648', -2147483648]];
    for (const [raw, v] of ok) assert.equal(readInteger(raw), v, raw);
    for (const raw of ['true', '0x10', '1x', '', '2147483648', '99999999999', '1e3', '\\s5']) assert.throws(() => readInteger(raw), raw);
  });

  test('string lists as g_key_file_get_string_list reads them', () => {
    assert.deepEqual(readStringList('a;b\\;c;;d;'), ['a', 'b;c', '', 'd']);
    assert.deepEqual(readStringList('main;inputs'), ['main', 'inputs']);
    assert.deepEqual(readStringList('a ; b ;'), ['a ', ' b ']);
    assert.deepEqual(readStringList(''), []);
    assert.deepEqual(readStringList(';'), ['']);
    assert.deepEqual(readStringList('x\\\\;y'), ['x\\', 'y']);
    assert.deepEqual(readStringList('\\sa;\\sb'), [' a', ' b']);
    assert.throws(() => readStringList('a\\,b'), /invalid escape/);
  });

  test('escaping: what GLib writes, and every value reads back', () => {
    assert.equal(escapeString('  a\nb\tc\\d;e  \r'), '\\s\\sa\\nb\\tc\\\\d;e  \\r');
    assert.equal(escapeStringList(['a;b', 'c', ' d ']), 'a\\;b;c;\\sd ;');
    assert.equal(escapeStringList([]), '');
    for (const v of ['', ' ', '\t x', 'a\\', '#x', 'a=b', ';', 'é\n\n', 'x\\n']) {
      assert.equal(readString(escapeString(v)), v, JSON.stringify(v));
      assert.deepEqual(readStringList(escapeStringList([v, v])), [v, v], JSON.stringify(v));
    }
    const text = serializeKeyFile([{ name: 'virt-viewer', entries: [['k', escapeString(' x\ny')]], comments: [' hi'] }]);
    assert.equal(text, '# hi\n[virt-viewer]\nk=\\sx\\ny\n');
    assert.throws(() => serializeKeyFile([{ name: 'a]', entries: [] }]));
    assert.throws(() => serializeKeyFile([{ name: 'g', entries: [['a=b', '1']] }]));
    assert.throws(() => serializeKeyFile([{ name: 'g', entries: [['k', 'raw\nline']] }]));
  });
});

describe('.vv files', () => {
  let ca: TestCa;
  let good: string;
  before(() => {
    ca = createTestCa(join(tmp, 'pki'));
    good = [
      '[virt-viewer]',
      'type=spice',
      'host=pvespiceproxy:6543a1b2:100:pve::0123456789abcdef',
      'tls-port=61000',
      'password=one-time-ticket',
      'proxy=http://192.168.1.10:3128',
      `ca=${escCa(ca.caPem)}`,
      `host-subject=${ca.subject}`,
      'secure-attention=Ctrl+Alt+Ins',
      'release-cursor=Ctrl+Alt+R',
      'toggle-fullscreen=Shift+F11',
      'delete-this-file=1',
      'title=VM 100 - test',
      'secure-channels=main;inputs;cursor;playback;record;display;usbredir;smartcard',
      '',
    ].join('\n');
  });

  test('a Proxmox-style file parses into a typed VvFile and connect options', () => {
    const { vv, findings } = analyzeVv(good, { mode: 0o600 });
    assert.deepEqual(findings, []);
    assert.ok(vv);
    assert.equal(vv.type, 'spice');
    assert.equal(vv.tlsPort, 61000);
    assert.equal(vv.port, undefined);
    assert.equal(vv.ca, lf(ca.caPem).replace(/\s+$/, '\n'));
    assert.equal(vv.deleteThisFile, true);
    assert.deepEqual(vv.hotkeys, { 'secure-attention': 'Ctrl+Alt+Ins', 'release-cursor': 'Ctrl+Alt+R', 'toggle-fullscreen': 'Shift+F11' });
    assert.equal(vv.secureChannels!.length, 8);
    const o = vvToConnectOptions(vv);
    assert.deepEqual(o.endpoint, { host: 'pvespiceproxy:6543a1b2:100:pve::0123456789abcdef', tlsPort: 61000 });
    assert.equal(o.password, 'one-time-ticket');
    assert.deepEqual(o.tls, { ca: vv.ca, hostSubject: ca.subject });
    assert.equal(o.proxy, 'http://192.168.1.10:3128');
    assert.equal(o.deleteThisFile, true);
  });

  test('serializeVv writes [virt-viewer], GLib escapes, ;-lists, a CA with \\n; it reads back identically', () => {
    const vv: VvFile = {
      type: 'spice',
      host: 'vm.example',
      port: 5900,
      tlsPort: 5901,
      password: ' pass;word\\',
      title: 'Café\tVM',
      ca: ca.caPem,
      hostSubject: ca.subject,
      secureChannels: ['main', 'inputs'],
      disableChannels: [],
      proxy: 'http://u:p@proxy:3128',
      fullscreen: true,
      enableUsbredir: true,
      enableUsbAutoshare: false,
      usbFilter: '0x03,-1,-1,-1,0|-1,-1,-1,-1,1',
      deleteThisFile: true,
      hotkeys: { 'toggle-fullscreen': 'shift+f11', 'release-cursor': 'shift+f12' },
      version: '8.0',
      versions: [['rhel8', '8.0-1'], ['win', '11.0']],
      newerVersionUrl: 'https://example.com/rv',
      extra: { 'x-custom': 'raw\\svalue' },
    };
    const text = serializeVv(vv, { comment: 'test' });
    assert.match(text, /^# test\n\[virt-viewer\]\ntype=spice\nhost=vm\.example\nport=5900\ntls-port=5901\n/);
    assert.match(text, /\npassword=\\spass;word\\\\\n/);
    assert.match(text, /\ntitle=Café\\tVM\n/);
    assert.match(text, /\nca=-----BEGIN CERTIFICATE-----\\n[A-Za-z0-9+/=\\n]+-----END CERTIFICATE-----\\n\n/);
    assert.match(text, /\nsecure-channels=main;inputs;\ndisable-channels=\n/);
    assert.match(text, /\nfullscreen=1\n/);
    assert.match(text, /\nenable-usb-autoshare=0\n/);
    assert.match(text, /\nversions=rhel8:8\.0-1;win:11\.0;\n/);
    assert.match(text, /\nx-custom=raw\\svalue\n$/);
    assert.ok(!text.includes('\r'));
    const back = analyzeVv(text, { mode: 0o600 });
    assert.deepEqual(errors(back.findings), []);
    assert.deepEqual(back.vv, { ...vv, ca: lf(ca.caPem) });
  });

  test('serializeVv writes [ovirt] too, and refuses a file without a type', () => {
    const text = serializeVv({ type: 'spice', host: 'h', port: 1, ovirt: { host: 'engine', vmGuid: 'abc', admin: true } });
    assert.match(text, /\n\n\[ovirt\]\nhost=engine\nvm-guid=abc\nadmin=1\n$/);
    assert.deepEqual(analyzeVv(text).vv!.ovirt, { host: 'engine', vmGuid: 'abc', admin: true });
    assert.throws(() => serializeVv({ type: '' }), SpiceError);
  });

  const base = '[virt-viewer]\ntype=spice\nhost=vm\nport=5900\n';
  const broken: [string, string | Buffer, string, RegExp, { now?: number }?][] = [
    ['bad INI syntax', `${base}tls-port 5901\n`, 'line 5', /"tls-port 5901" is not a key=value pair/],
    ['a key before any group', `type=spice\n${base}`, 'line 1', /before any \[group\]/],
    ['no [virt-viewer] group', '[Virt-Viewer]\ntype=spice\nhost=vm\nport=5900\n', '[virt-viewer]', /found \[Virt-Viewer\].*case-sensitive/],
    ['an empty file', '', '[virt-viewer]', /no \[virt-viewer\] group/],
    ['no type', '[virt-viewer]\nhost=vm\nport=5900\n', 'type', /missing: .*type=spice/],
    ['type vnc', base.replace('spice', 'vnc'), 'type', /only handles SPICE/],
    ['type unknown', base.replace('spice', 'rdp'), 'type', /not a session type/],
    ['no host', '[virt-viewer]\ntype=spice\nport=5900\n', 'host', /missing: give host=/],
    ['no port', '[virt-viewer]\ntype=spice\nhost=vm\n', 'port', /neither port= nor tls-port=/],
    ['a port that is not a number', base.replace('5900', '59O0'), 'port', /"59O0" is not an integer/],
    ['a hex port', base.replace('5900', '0x170c'), 'port', /hexadecimal is not accepted/],
    ['port 0', base.replace('5900', '0'), 'port', /0 is not a TCP port/],
    ['a boolean written true', `${base}fullscreen=true\n`, 'fullscreen', /"true" is not an integer: GLib reads it as 0, so this is OFF; write 1/],
    ['a boolean written yes', `${base}delete-this-file=yes\n`, 'delete-this-file', /this is OFF/],
    ['an unknown escape', `${base}title=C:\\VMs\n`, 'title', /invalid escape "\\V".*treats "title" as unset/],
    ['\\; in a plain string', `${base}password=a\\;b\n`, 'password', /only valid in a string list/],
    ['a CA that is not PEM', `${base}tls-port=5901\nca=hello\n`, 'ca', /no PEM certificate/],
    ['a damaged CA', `${base}tls-port=5901\nca=-----BEGIN CERTIFICATE-----\\nMIIBnotbase64!!\\n-----END CERTIFICATE-----\\n\n`, 'ca', /does not parse as X\.509/],
    ['a CA on one line', `${base}tls-port=5901\nca=-----BEGIN CERTIFICATE----- MIIB -----END CERTIFICATE-----\n`, 'ca', /on one line/],
    ['a bad USB filter', `${base}enable-usbredir=1\nusb-filter=0x03,-1,-1,0|-1,-1,-1,-1,1\n`, 'usb-filter', /filter rule 1 '0x03,-1,-1,0': expected 5 fields/],
    ['a USB filter with a bad value', `${base}enable-usbredir=1\nusb-filter=0x100,-1,-1,-1,1\n`, 'usb-filter', /filter rule 1, field class/],
    ['comma-separated channel list', `${base}tls-port=5901\nsecure-channels=main,inputs\n`, 'secure-channels', /separated by ';', not ','/],
    ['unknown channel', `${base}disable-channels=audio\n`, 'disable-channels', /unknown channel "audio"/],
    ['secure channels without tls-port', `${base}secure-channels=all\n`, 'secure-channels', /no tls-port= is given/],
    ['unix-path and host', `${base}unix-path=/run/vm.sock\n`, 'unix-path', /cannot be combined with host, port/],
    ['a socks proxy', `${base}proxy=socks5://p:1080\n`, 'proxy', /only HTTP CONNECT/],
    ['an OpenSSL-style subject', `${base}tls-port=5901\nhost-subject=/C=XX/CN=vm\n`, 'host-subject', /comma-separated/],
    ['a subject that is not key=value', `${base}tls-port=5901\nhost-subject=C=XX,vm\n`, 'host-subject', /"vm" is not key=value/],
    ['versions without a colon', `${base}versions=rhel8;\n`, 'versions', /"rhel8" is not osid:version/],
    ['bracketed IPv6 host', base.replace('host=vm', 'host=[::1]'), 'host', /without brackets/],
    ['an empty hotkey part', `${base}release-cursor=shift++f12\n`, 'release-cursor', /empty key name/],
    ['a NUL byte', `${base}title=a\0b\n`, 'file', /NUL byte/],
    ['invalid UTF-8', Buffer.concat([Buffer.from(`${base}title=`), Buffer.from([0xff, 0x0a])]), 'file', /not valid UTF-8/],
  ];
  for (const [name, text, key, re, opts] of broken) {
    test(`lint, exactly one error: ${name}`, () => {
      const errs = errors(lintVv(text, opts));
      assert.equal(errs.length, 1, JSON.stringify(errs, null, 1));
      assert.equal(errs[0]!.key, key);
      assert.match(errs[0]!.message, re);
    });
  }

  test('lint: an expired CA, and a CA not valid yet', () => {
    const text = `${base}tls-port=5901\nca=${escCa(ca.caPem)}\n`;
    assert.deepEqual(lintVv(text), []);
    const expired = errors(lintVv(text, { now: new Date('2200-01-01') }));
    assert.equal(expired.length, 1);
    assert.equal(expired[0]!.key, 'ca');
    assert.match(expired[0]!.message, /expired on \d{4}-\d\d-\d\d: TLS verification will fail/);
    const early = lintVv(text, { now: new Date('2000-01-01') });
    assert.deepEqual(early.map((f) => [f.level, f.key]), [['warning', 'ca']]);
    assert.match(early[0]!.message, /not valid before/);
  });

  test('lint: the server certificate given as ca= is a warning', () => {
    const f = lintVv(`${base}tls-port=5901\nca=${escCa(ca.serverCertPem)}\n`);
    assert.deepEqual(f.map((x) => [x.level, x.key]), [['warning', 'ca']]);
    assert.match(f[0]!.message, /not a CA certificate/);
  });

  test('lint: password exposure by file mode', () => {
    const text = `${base}password=s3cret\n`;
    const world = lintVv(text, { mode: 0o100644 });
    assert.deepEqual(world.map((f) => [f.level, f.key]), [['warning', 'password']]);
    assert.match(world[0]!.message, /every user can read \(mode 0644\): chmod 600 it/);
    assert.ok(!world[0]!.message.includes('s3cret'));
    assert.deepEqual(lintVv(text, { mode: 0o640 }).map((f) => f.level), ['info']);
    assert.deepEqual(lintVv(text, { mode: 0o600 }), []);
    assert.deepEqual(lintVv(text), [], 'no mode, no check');
    const proxyCreds = lintVv(`${base}proxy=http://u:pw@p:3128\n`, { mode: 0o644 });
    assert.deepEqual(proxyCreds.map((f) => [f.level, f.key]), [['warning', 'proxy']]);
    assert.match(proxyCreds[0]!.message, /proxy credentials in a file every user can read/);
  });

  test('lint: proxy credentials remote-viewer would send differently', () => {
    for (const proxy of ['http://u:p%40ss@p:3128', 'http://u:a:b@p:3128']) {
      const f = lintVv(`${base}proxy=${proxy}\n`);
      assert.deepEqual(f.map((x) => [x.level, x.key]), [['warning', 'proxy']], proxy);
      assert.match(f[0]!.message, /remote-viewer sends them as written/);
    }
    assert.deepEqual(lintVv(`${base}proxy=http://user:plain-pass@p:3128\n`), []);
  });

  test('lint warnings: unknown keys (with a suggestion), x- keys, repeats, tls-port without ca, odd booleans', () => {
    const f = lintVv(`${base}tls_port=5901\nx-vendor-id=42\nport=5901\nfullscreen=2\nzoom=150\n[x-extra]\na=b\n[other]\n`);
    const got = f.map((x) => [x.level, x.key]);
    assert.deepEqual(got, [
      ['warning', 'tls_port'],
      ['warning', 'port'],
      ['warning', 'fullscreen'],
      ['warning', 'zoom'],
      ['warning', '[other]'],
    ], 'in file order');
    assert.match(f.find((x) => x.key === 'tls_port')!.message, /did you mean "tls-port"\?/);
    assert.match(f.find((x) => x.key === 'port')!.message, /set 2 times \(lines 4, 7\): the last value wins/);
    assert.match(f.find((x) => x.key === 'fullscreen')!.message, /2 reads as on/);
    const t = lintVv(`${base}tls-port=5901\n`);
    assert.deepEqual(t.map((x) => [x.level, x.key]), [['warning', 'tls-port']]);
    assert.match(t[0]!.message, /no ca= given/);
  });

  test('formatFinding: FILE: key: message', () => {
    assert.equal(formatFinding('a.vv', { level: 'error', key: 'port', message: 'bad' }), 'a.vv: port: bad');
    assert.equal(formatFinding('a.vv', { level: 'warning', key: 'x', message: 'hm' }), 'a.vv: x: warning: hm');
    assert.equal(formatFinding('a.vv', { level: 'info', key: 'x', message: 'fyi' }), 'a.vv: x: note: fyi');
  });

  test('parseVv throws SpiceError(input) naming the key; otherwise returns the typed file', () => {
    assert.equal(parseVv(base).port, 5900);
    assert.throws(() => parseVv(base.replace('5900', 'x')), (e: unknown) => e instanceof SpiceError && e.code === 'input' && /port: "x" is not an integer/.test(e.message));
  });

  test('unix-path files', () => {
    const o = vvToConnectOptions(parseVv('[virt-viewer]\ntype=spice\nunix-path=/run/vm.sock\n'));
    assert.deepEqual(o.endpoint, { unixPath: '/run/vm.sock' });
  });
});

describe('loadVvForConnect', () => {
  const write = (name: string, text: string, mode = 0o600) => {
    const p = join(tmp, name);
    writeFileSync(p, text);
    chmodSync(p, mode);
    return p;
  };

  test('reads a file; delete-this-file=1 removes it (as remote-viewer does)', async () => {
    const p = write('del.vv', '[virt-viewer]\ntype=spice\nhost=vm\nport=5900\npassword=pw\ndelete-this-file=1\n');
    const r = await loadVvForConnect(p, { env: {} });
    assert.equal(r.deleted, true);
    assert.equal(existsSync(p), false);
    assert.deepEqual(r.endpoint, { host: 'vm', port: 5900 });
    assert.equal(r.password, 'pw');
    assert.deepEqual(r.warnings, []);
  });

  test('VIRT_VIEWER_KEEP_FILE keeps it; without delete-this-file it stays', async () => {
    const p = write('keep.vv', '[virt-viewer]\ntype=spice\nhost=vm\nport=5900\ndelete-this-file=1\n');
    assert.equal((await loadVvForConnect(p, { env: { VIRT_VIEWER_KEEP_FILE: '1' } })).deleted, false);
    assert.ok(existsSync(p));
    const q = write('stay.vv', '[virt-viewer]\ntype=spice\nhost=vm\nport=5900\n');
    assert.equal((await loadVvForConnect(q, { env: {} })).deleted, false);
    assert.ok(existsSync(q));
  });

  test('a file that cannot be used is still deleted when it asks to be, then refused', async () => {
    const p = write('bad-del.vv', '[virt-viewer]\ntype=spice\nhost=vm\nport=x\ndelete-this-file=1\npassword=pw\n');
    await assert.rejects(loadVvForConnect(p, { env: {} }), (e: unknown) => e instanceof SpiceError && e.code === 'input' && e.message === `${p}: port: "x" is not an integer: GLib cannot read it, remote-viewer would use 0`);
    assert.equal(existsSync(p), false);
  });

  test('errors in keys that do not affect the connection come back as warnings', async () => {
    const p = write('soft.vv', '[virt-viewer]\ntype=spice\nhost=vm\nport=5900\nfullscreen=true\npassword=pw\n', 0o644);
    const r = await loadVvForConnect(p, { env: {} });
    assert.deepEqual(r.warnings.map((w) => [w.level, w.key]), [['error', 'fullscreen'], ['warning', 'password']]);
    assert.equal(r.fullscreen, false);
  });

  test('CA problems are TLS errors (exit 5); unreadable files are input errors (exit 9)', async () => {
    const p = write('ca.vv', '[virt-viewer]\ntype=spice\nhost=vm\ntls-port=5901\nca=junk\n');
    await assert.rejects(loadVvForConnect(p, { env: {} }), (e: unknown) => e instanceof SpiceError && e.code === 'tls' && /ca: no PEM certificate/.test(e.message));
    await assert.rejects(loadVvForConnect(join(tmp, 'missing.vv')), (e: unknown) => e instanceof SpiceError && e.code === 'input' && /no such file/.test(e.message));
    await assert.rejects(loadVvForConnect(tmp), (e: unknown) => e instanceof SpiceError && e.code === 'input' && /not a regular file/.test(e.message));
    const syntax = write('syntax.vv', '[virt-viewer]\ntype=spice\nhost vm\n');
    await assert.rejects(loadVvForConnect(syntax), (e: unknown) => e instanceof SpiceError && e.code === 'input' && /line 3: "host vm" is not a key=value pair/.test(e.message));
  });

  test('"-" reads standard input and never deletes anything', async () => {
    const r = await loadVvForConnect('-', { readStdin: async () => '[virt-viewer]\ntype=spice\nhost=vm\ntls-port=5901\ndelete-this-file=1\nproxy=http://p:3128\n' });
    assert.equal(r.source, '-');
    assert.equal(r.deleted, false);
    assert.equal(r.proxy, 'http://p:3128');
    assert.deepEqual(r.endpoint, { host: 'vm', tlsPort: 5901 });
  });

  test('looksLikeVvPath', () => {
    assert.equal(looksLikeVvPath('-'), true);
    assert.equal(looksLikeVvPath('console.vv'), true);
    assert.equal(looksLikeVvPath('CONSOLE.VV'), true);
    assert.equal(looksLikeVvPath('spice://h:1'), false);
    assert.equal(looksLikeVvPath('spice+unix:///x.vv'), false);
    const p = write('noext', '[virt-viewer]\n');
    assert.equal(looksLikeVvPath(p), true);
    assert.equal(looksLikeVvPath(join(tmp, 'nothing-here')), false);
  });
});
