// remote-viewer connection files (.vv): read them into a typed VvFile and into the session's
// connect options, write them back, and lint them. The key list and types follow virt-viewer's
// src/virt-viewer-file.c and man/remote-viewer.pod (digest §11.1); the syntax is GLib's key
// file (./keyfile.ts). Pure apart from loadVvForConnect (reads, and maybe deletes, the file).
//
// Reading is faithful to remote-viewer where it matters for a connection and loud everywhere
// else: a value GLib cannot read (port=59O0, fullscreen=true, an unknown escape) is left unset,
// exactly as remote-viewer sees it, and produces a finding. lintVv() returns every finding;
// parseVv() throws on the first error; loadVvForConnect() throws only on errors in the keys
// that decide where and how to connect, and hands the rest back as warnings.
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync, unlinkSync } from 'node:fs';
import { isIP } from 'node:net';
import { SpiceError } from '../util/errors.js';
import { readStdin } from '../util/stdin.js';
import { parseFilter } from '../usb/filter.js';
import {
  escapeString,
  escapeStringList,
  getEntry,
  getGroup,
  KeyFileValueError,
  parseKeyFile,
  readInteger,
  readString,
  readStringList,
  serializeKeyFile,
  type KeyFileEntry,
  type KeyFileGroup,
  type SerializeGroup,
} from './keyfile.js';
import { parseProxyUrl } from './proxy.js';
import { parseSubject, type TlsSettings } from './transport.js';
import type { Endpoint } from './uri.js';

export const MAIN_GROUP = 'virt-viewer';
export const OVIRT_GROUP = 'ovirt';

export const HOTKEYS = [
  'toggle-fullscreen',
  'release-cursor',
  'zoom-in',
  'zoom-out',
  'zoom-reset',
  'secure-attention',
  'usb-device-reset',
  'smartcard-insert',
  'smartcard-remove',
] as const;
export type HotkeyName = (typeof HOTKEYS)[number];

export interface VvOvirt {
  host?: string;
  vmGuid?: string;
  jsessionid?: string;
  ssoToken?: string;
  ca?: string;
  admin?: boolean;
}

/** The [virt-viewer] group of a .vv file, typed. Unset keys are undefined. */
export interface VvFile {
  /** "spice" (spicectl connects to nothing else), "vnc" or "ovirt". */
  type: string;
  host?: string;
  port?: number;
  tlsPort?: number;
  unixPath?: string;
  username?: string;
  password?: string;
  title?: string;
  /** PEM CA certificate(s), with real newlines (the file has \n escapes). */
  ca?: string;
  hostSubject?: string;
  tlsCiphers?: string;
  secureChannels?: string[];
  disableChannels?: string[];
  /** http://[user:pass@]host:port */
  proxy?: string;
  fullscreen?: boolean;
  colorDepth?: number;
  disableEffects?: string[];
  enableSmartcard?: boolean;
  enableUsbredir?: boolean;
  enableUsbAutoshare?: boolean;
  /** usbredir filter, "class,vendor,product,version,allow|..." */
  usbFilter?: string;
  usbRedirectOnConnect?: string;
  deleteThisFile?: boolean;
  hotkeys?: Partial<Record<HotkeyName, string>>;
  /** minimum remote-viewer version */
  version?: string;
  /** [osid, minimum version] pairs */
  versions?: [string, string][];
  newerVersionUrl?: string;
  ovirt?: VvOvirt;
  /** Keys spicectl does not model (x- custom keys, unknown keys): raw GLib values, file order. */
  extra?: Record<string, string>;
}

export type VvLevel = 'error' | 'warning' | 'info';

export interface VvFinding {
  level: VvLevel;
  /** The key ("tls-port", "ovirt.host"), "line N" for syntax, "file" or "[virt-viewer]". */
  key: string;
  message: string;
  line?: number;
}

type Kind = 'string' | 'int' | 'bool' | 'list' | 'port' | 'hotkey' | 'versions';

/** [virt-viewer] keys, in the order serializeVv writes them, with their VvFile property. */
const MAIN_KEYS: [string, Kind, keyof VvFile | null][] = [
  ['type', 'string', 'type'],
  ['host', 'string', 'host'],
  ['port', 'port', 'port'],
  ['tls-port', 'port', 'tlsPort'],
  ['unix-path', 'string', 'unixPath'],
  ['username', 'string', 'username'],
  ['password', 'string', 'password'],
  ['title', 'string', 'title'],
  ['ca', 'string', 'ca'],
  ['host-subject', 'string', 'hostSubject'],
  ['tls-ciphers', 'string', 'tlsCiphers'],
  ['secure-channels', 'list', 'secureChannels'],
  ['disable-channels', 'list', 'disableChannels'],
  ['proxy', 'string', 'proxy'],
  ['fullscreen', 'bool', 'fullscreen'],
  ['color-depth', 'int', 'colorDepth'],
  ['disable-effects', 'list', 'disableEffects'],
  ['enable-smartcard', 'bool', 'enableSmartcard'],
  ['enable-usbredir', 'bool', 'enableUsbredir'],
  ['enable-usb-autoshare', 'bool', 'enableUsbAutoshare'],
  ['usb-filter', 'string', 'usbFilter'],
  ['usb-redirect-on-connect', 'string', 'usbRedirectOnConnect'],
  ['delete-this-file', 'bool', 'deleteThisFile'],
  ...HOTKEYS.map((h): [string, Kind, null] => [h, 'hotkey', null]),
  ['version', 'string', 'version'],
  ['versions', 'versions', 'versions'],
  ['newer-version-url', 'string', 'newerVersionUrl'],
];
const MAIN_KIND = new Map(MAIN_KEYS.map(([k, kind]) => [k, kind]));

const OVIRT_KEYS: [string, Kind, keyof VvOvirt][] = [
  ['host', 'string', 'host'],
  ['vm-guid', 'string', 'vmGuid'],
  ['jsessionid', 'string', 'jsessionid'],
  ['sso-token', 'string', 'ssoToken'],
  ['ca', 'string', 'ca'],
  ['admin', 'bool', 'admin'],
];

/** Channel names spice-gtk accepts in secure-channels / disable-channels. */
export const CHANNEL_NAMES = ['main', 'display', 'inputs', 'cursor', 'playback', 'record', 'smartcard', 'usbredir', 'port', 'webdav'];
const EFFECTS = ['wallpaper', 'font-smooth', 'animation', 'all'];
const SUBJECT_KEYS = new Set([
  'C', 'ST', 'L', 'O', 'OU', 'CN', 'DC', 'UID', 'emailAddress', 'serialNumber', 'street', 'title', 'GN', 'SN', 'initials',
  'pseudonym', 'dnQualifier', 'postalCode', 'name', 'description', 'businessCategory', 'countryName', 'stateOrProvinceName',
  'localityName', 'organizationName', 'organizationalUnitName', 'commonName',
]);

/** Keys whose errors make a file unusable for a connection (loadVvForConnect refuses it). */
const CONNECTION_KEYS = new Set([
  'file', '[virt-viewer]', 'type', 'host', 'port', 'tls-port', 'unix-path', 'password', 'username', 'ca', 'host-subject',
  'secure-channels', 'disable-channels', 'proxy',
]);

export interface AnalyzeOptions {
  /** st_mode (or just the permission bits) of the file: enables the password-exposure check. */
  mode?: number;
  /** Clock for certificate validity (default now). */
  now?: Date | number;
}

export interface VvAnalysis {
  /** null when the file cannot be read at all (syntax errors, no [virt-viewer] group or type). */
  vv: VvFile | null;
  findings: VvFinding[];
}

const MAX_VV_BYTES = 1024 * 1024;

function decodeText(input: string | Buffer, findings: VvFinding[]): string | null {
  if (typeof input === 'string') return input;
  if (input.length > MAX_VV_BYTES) {
    findings.push({ level: 'error', key: 'file', message: `${input.length} bytes: larger than 1 MiB, this is not a connection file` });
    return null;
  }
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(input);
  } catch {
    findings.push({ level: 'error', key: 'file', message: 'not valid UTF-8 text (GLib refuses non-UTF-8 values): save it as UTF-8' });
    return null;
  }
}

const camel = (s: string) => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

function levenshtein(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return d[b.length]!;
}

function suggest(key: string, known: string[]): string {
  const k = key.toLowerCase().replace(/_/g, '-');
  const hit = known.find((c) => c === k) ?? known.find((c) => levenshtein(k, c) <= 2);
  return hit ? `; did you mean "${hit}"?` : '';
}

const BOOL_WORDS = /^(true|false|yes|no|on|off|enabled?|disabled?)$/i;

/** Read one raw value by kind, as remote-viewer would; pushes findings. undefined = unset. */
function readValue(e: KeyFileEntry, kind: Kind, key: string, push: (level: VvLevel, msg: string) => void): unknown {
  try {
    switch (kind) {
      case 'string':
      case 'hotkey': {
        const v = readString(e.raw);
        if (/[ \t]$/.test(v) && key !== 'password') push('warning', `the value ends with whitespace, which GLib keeps as part of it: "${v}"`);
        return v;
      }
      case 'int':
        return readInteger(e.raw);
      case 'port': {
        const v = readInteger(e.raw);
        if (v < 1 || v > 65535) {
          push('error', `${v} is not a TCP port (1-65535)`);
          return undefined;
        }
        return v;
      }
      case 'bool': {
        const v = readInteger(e.raw);
        if (v !== 0 && v !== 1) push('warning', `${v} reads as on (any non-zero integer is on): write 1`);
        return v !== 0;
      }
      case 'list':
      case 'versions':
        return readStringList(e.raw);
    }
  } catch (err) {
    if (!(err instanceof KeyFileValueError)) throw err;
    if (kind === 'bool') {
      const w = e.raw.trim();
      push('error', BOOL_WORDS.test(w)
        ? `"${w}" is not an integer: GLib reads it as 0, so this is OFF; write 1 (on) or 0 (off)`
        : `${err.message}: booleans in .vv files are integers, write 1 (on) or 0 (off); GLib reads this as 0`);
      return false;
    }
    if (kind === 'int' || kind === 'port') {
      push('error', `${err.message}${/^\s*0x/i.test(e.raw) ? ' (hexadecimal is not accepted)' : ''}: GLib cannot read it, remote-viewer would use 0`);
      return undefined;
    }
    push('error', `${err.message}: GLib refuses the whole value, so remote-viewer treats "${key}" as unset`);
    return undefined;
  }
  return undefined;
}

/** Split PEM blocks; checks each certificate. */
function checkCa(ca: string, now: number, push: (level: VvLevel, msg: string) => void): void {
  const blocks = ca.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (!blocks.length) {
    if (ca.includes('-----BEGIN CERTIFICATE-----') && !ca.includes('-----END CERTIFICATE-----')) push('error', 'the PEM certificate is cut off: "-----END CERTIFICATE-----" is missing');
    else if (ca.includes('\\n')) push('error', 'no PEM certificate: the lines seem to be joined with an escaped backslash ("\\\\n"); write \\n');
    else push('error', 'no PEM certificate ("-----BEGIN CERTIFICATE-----") in it');
    return;
  }
  let expired = 0;
  const parsed: X509Certificate[] = [];
  blocks.forEach((pem, i) => {
    const which = blocks.length > 1 ? `certificate ${i + 1} of ${blocks.length}` : 'the certificate';
    if (!pem.includes('\n')) {
      push('error', `${which} is on one line: PEM needs its line breaks, written as \\n escapes in a .vv file`);
      return;
    }
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(pem);
    } catch (e) {
      push('error', `${which} does not parse as X.509 (${(e as Error).message.replace(/^error:[0-9A-F]+:/i, '')}): is the PEM text damaged?`);
      return;
    }
    parsed.push(cert);
    const to = Date.parse(cert.validTo);
    const from = Date.parse(cert.validFrom);
    const subj = cert.subject.split('\n').join(',');
    if (to < now) {
      expired++;
      push(blocks.length > 1 ? 'warning' : 'error', `${which} (${subj}) expired on ${new Date(to).toISOString().slice(0, 10)}: TLS verification will fail`);
    } else if (from > now) {
      push('warning', `${which} (${subj}) is not valid before ${new Date(from).toISOString().slice(0, 10)} (check the clock)`);
    }
    if (!cert.ca && cert.issuer !== cert.subject) {
      push('warning', `${which} (${subj}) is not a CA certificate: give the CA that signed the server certificate, not the server certificate`);
    }
  });
  if (blocks.length > 1 && expired === blocks.length) push('error', 'every certificate in it has expired: TLS verification will fail');
}

function checkHotkey(v: string, push: (level: VvLevel, msg: string) => void): void {
  const parts = v.split('+');
  if (parts.some((p) => p.trim() === '')) push('error', `"${v}": empty key name (hotkeys are modifiers and a key joined by '+', e.g. shift+f11)`);
  else if (parts.some((p) => !/^[A-Za-z0-9_]+$/.test(p.trim()))) push('warning', `"${v}": unusual key name; hotkeys look like shift+f11 or ctrl+alt+end`);
}

function checkChannelList(key: string, list: string[], push: (level: VvLevel, msg: string) => void): void {
  for (const item of list) {
    if (item === '') push('warning', 'an empty item (two ";" in a row)');
    else if (item.includes(',')) push('error', `"${item}": list items are separated by ';', not ',' (write ${item.split(',').map((s) => s.trim()).join(';')})`);
    else if (item.trim() !== item) push('error', `"${item}" has surrounding spaces, which spice-gtk does not trim: this channel name matches nothing`);
    else if (!(CHANNEL_NAMES.includes(item) || (key === 'secure-channels' && item === 'all'))) {
      push('error', `unknown channel "${item}" (known: ${CHANNEL_NAMES.join(', ')}${key === 'secure-channels' ? ', all' : ''})`);
    }
  }
}

function checkSubject(s: string, push: (level: VvLevel, msg: string) => void): void {
  if (s.trim().startsWith('/')) {
    push('error', `"${s}" is in OpenSSL's /C=../CN=.. form: write it comma-separated, e.g. C=XX,O=Org,CN=host`);
    return;
  }
  let pairs: [string, string][];
  try {
    pairs = parseSubject(s);
  } catch (e) {
    push('error', (e as Error).message.replace(/^host subject "[^"]*": /, ''));
    return;
  }
  if (!pairs.length) push('error', 'empty subject');
  for (const [k] of pairs) {
    if (SUBJECT_KEYS.has(k)) continue;
    const ci = [...SUBJECT_KEYS].find((x) => x.toLowerCase() === k.toLowerCase());
    push('warning', ci ? `"${k}": attribute names are case-sensitive for spice-gtk (OpenSSL): write ${ci}` : `"${k}" is not a usual certificate subject attribute (C, ST, L, O, OU, CN, ...)`);
  }
}

function checkFilter(v: string, push: (level: VvLevel, msg: string) => void): void {
  try {
    const rules = parseFilter(v, { onWarning: (m) => push('warning', m) });
    if (!rules.length) push('warning', 'the filter has no rules');
  } catch (e) {
    push('error', (e as Error).message);
  }
}

/** Read and check a .vv file: the typed file (or null) and every finding. Never throws. */
export function analyzeVv(input: string | Buffer, opts: AnalyzeOptions = {}): VvAnalysis {
  const findings: VvFinding[] = [];
  const now = opts.now === undefined ? Date.now() : typeof opts.now === 'number' ? opts.now : opts.now.getTime();
  const text = decodeText(input, findings);
  if (text === null) return { vv: null, findings };
  const nul = text.indexOf('\0');
  if (nul >= 0) {
    findings.push({ level: 'error', key: 'file', message: 'contains a NUL byte: this is not a text file', line: text.slice(0, nul).split('\n').length });
    return { vv: null, findings };
  }
  const kf = parseKeyFile(text);
  for (const e of kf.errors) findings.push({ level: 'error', key: `line ${e.line}`, message: e.message, line: e.line });
  if (kf.errors.length) return { vv: null, findings };

  const main = getGroup(kf, MAIN_GROUP);
  if (!main) {
    const near = kf.groups.find((g) => g.name.toLowerCase().replace(/[_ ]/g, '-') === MAIN_GROUP || levenshtein(g.name.toLowerCase(), MAIN_GROUP) <= 2);
    findings.push({
      level: 'error',
      key: `[${MAIN_GROUP}]`,
      message: near
        ? `no [${MAIN_GROUP}] group (found [${near.name}], line ${near.line}: group names are case-sensitive)`
        : `no [${MAIN_GROUP}] group: a connection file starts with [${MAIN_GROUP}] followed by type=spice, host=..., port=...`,
    });
    return { vv: null, findings };
  }

  for (const g of kf.groups) {
    if (g.repeatedAt.length) findings.push({ level: 'info', key: `[${g.name}]`, message: `the group appears again on line ${g.repeatedAt.join(', ')}: GLib merges them`, line: g.repeatedAt[0] });
    if (g.name !== MAIN_GROUP && g.name !== OVIRT_GROUP && !g.name.startsWith('x-')) {
      findings.push({ level: 'warning', key: `[${g.name}]`, message: `unknown group, ignored by remote-viewer (custom groups should start with x-)${suggest(g.name, [MAIN_GROUP, OVIRT_GROUP])}`, line: g.line });
    }
  }

  const vv: VvFile = { type: '' };
  const hotkeys: Partial<Record<HotkeyName, string>> = {};
  const extra: Record<string, string> = {};
  const lineOf = new Map<string, number>();
  readGroup(main, '', (key, e, push) => {
    lineOf.set(key, e.line);
    const kind = MAIN_KIND.get(key);
    if (!kind) {
      extra[key] = e.raw;
      if (!key.startsWith('x-')) push('warning', `unknown key, ignored by remote-viewer (custom keys should start with x-)${suggest(key, [...MAIN_KIND.keys()])}`);
      return;
    }
    const v = readValue(e, kind, key, push);
    if (v === undefined) return;
    if (kind === 'hotkey') {
      hotkeys[key as HotkeyName] = v as string;
      checkHotkey(v as string, push);
      return;
    }
    if (kind === 'versions') {
      const pairs: [string, string][] = [];
      for (const item of v as string[]) {
        const c = item.indexOf(':');
        if (c <= 0) push('error', `"${item}" is not osid:version (e.g. rhel8:11.0)`);
        else pairs.push([item.slice(0, c), item.slice(c + 1)]);
      }
      vv.versions = pairs;
      return;
    }
    (vv as unknown as Record<string, unknown>)[camel(key)] = v;
  }, findings);
  if (Object.keys(hotkeys).length) vv.hotkeys = hotkeys;
  if (Object.keys(extra).length) vv.extra = extra;

  const ovirtGroup = getGroup(kf, OVIRT_GROUP);
  if (ovirtGroup) {
    const ov: VvOvirt = {};
    const known = OVIRT_KEYS.map(([k]) => k);
    readGroup(ovirtGroup, 'ovirt.', (key, e, push) => {
      const spec = OVIRT_KEYS.find(([k]) => k === key);
      if (!spec) {
        if (!key.startsWith('x-')) push('warning', `unknown [ovirt] key, ignored${suggest(key, known)}`);
        return;
      }
      const v = readValue(e, spec[1], key, push);
      if (v !== undefined) (ov as Record<string, unknown>)[spec[2]] = v;
    }, findings);
    vv.ovirt = ov;
  }

  checkSemantics(vv, lineOf, findings, now, opts.mode);
  const typeOk = getEntry(main, 'type') !== undefined && vv.type !== '';
  // In file order (stable: findings without a line, such as a missing key, come last).
  findings.sort((a, b) => (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER));
  return { vv: typeOk ? vv : null, findings };
}

/** Walk a group's effective entries (last wins), flagging repeats and localized keys. */
function readGroup(
  g: KeyFileGroup,
  prefix: string,
  fn: (key: string, e: KeyFileEntry, push: (level: VvLevel, msg: string) => void) => void,
  findings: VvFinding[],
): void {
  const lines = new Map<string, number[]>();
  for (const e of g.entries) {
    if (e.locale !== undefined) {
      findings.push({ level: 'warning', key: `${prefix}${e.key}[${e.locale}]`, message: 'localized keys are ignored by remote-viewer', line: e.line });
      continue;
    }
    const l = lines.get(e.key) ?? [];
    l.push(e.line);
    lines.set(e.key, l);
  }
  for (const [key, ls] of lines) {
    const e = getEntry(g, key)!;
    if (ls.length > 1) findings.push({ level: 'warning', key: `${prefix}${key}`, message: `set ${ls.length} times (lines ${ls.join(', ')}): the last value wins`, line: e.line });
    fn(key, e, (level, message) => findings.push({ level, key: `${prefix}${key}`, message, line: e.line }));
  }
}

function checkSemantics(vv: VvFile, lineOf: Map<string, number>, findings: VvFinding[], now: number, mode?: number): void {
  const push = (level: VvLevel, key: string, message: string) => findings.push({ level, key, message, line: lineOf.get(key) });
  const at = (key: string) => (level: VvLevel, message: string) => push(level, key, message);
  const has = (key: string) => lineOf.has(key);

  if (!has('type')) push('error', 'type', 'missing: a connection file needs type=spice');
  else if (vv.type !== 'spice' && vv.type !== '') {
    push('error', 'type', vv.type === 'vnc' || vv.type === 'ovirt'
      ? `"${vv.type}": spicectl only handles SPICE connection files (type=spice); remote-viewer can open this one`
      : `"${vv.type}" is not a session type remote-viewer knows (spice, vnc, ovirt); spicectl needs type=spice`);
  } else if (vv.type === '' && !findings.some((f) => f.key === 'type')) push('error', 'type', 'empty: write type=spice');

  if (vv.unixPath !== undefined) {
    const clash = ['host', 'port', 'tls-port'].filter(has);
    if (clash.length) push('error', 'unix-path', `cannot be combined with ${clash.join(', ')}: a connection goes either to a unix socket or to a host`);
    if (!vv.unixPath.startsWith('/')) push('warning', 'unix-path', `"${vv.unixPath}" is relative: it depends on the directory remote-viewer is started from`);
    if (vv.proxy !== undefined) push('warning', 'proxy', 'ignored for a unix-path connection');
  } else if (!has('unix-path')) {
    if (!has('host')) push('error', 'host', 'missing: give host= (or unix-path= for a local socket)');
    else if (vv.host !== undefined) checkHost(vv, at('host'));
    if (!has('port') && !has('tls-port')) push('error', 'port', 'neither port= nor tls-port= is set: the client does not know where to connect');
  }

  if (vv.tlsPort !== undefined) {
    if (vv.ca === undefined && !has('ca')) push('warning', 'tls-port', 'no ca= given: the server certificate will be checked against the system CA store, which rarely knows a hypervisor\'s own CA');
  } else if (!has('tls-port')) {
    if (has('ca')) push('warning', 'ca', 'has no effect without tls-port=');
    if (has('host-subject')) push('warning', 'host-subject', 'has no effect without tls-port=');
    if (vv.secureChannels?.length) push('error', 'secure-channels', 'channels are required to use TLS, but no tls-port= is given');
  }
  if (vv.ca !== undefined) checkCa(vv.ca, now, at('ca'));
  if (vv.hostSubject !== undefined) checkSubject(vv.hostSubject, at('host-subject'));
  if (vv.secureChannels) checkChannelList('secure-channels', vv.secureChannels, at('secure-channels'));
  if (vv.disableChannels) {
    checkChannelList('disable-channels', vv.disableChannels, at('disable-channels'));
    if (vv.disableChannels.includes('main')) push('error', 'disable-channels', 'the main channel cannot be disabled: nothing works without it');
  }
  if (vv.disableEffects) {
    for (const e of vv.disableEffects) if (!EFFECTS.includes(e)) push('warning', 'disable-effects', `unknown effect "${e}" (known: ${EFFECTS.join(', ')})`);
  }
  if (vv.colorDepth !== undefined && vv.colorDepth !== 16 && vv.colorDepth !== 32) push('warning', 'color-depth', `${vv.colorDepth}: only 16 and 32 are meaningful`);
  if (vv.usbFilter !== undefined) checkFilter(vv.usbFilter, at('usb-filter'));
  if (vv.usbRedirectOnConnect !== undefined) checkFilter(vv.usbRedirectOnConnect, at('usb-redirect-on-connect'));
  if (vv.enableUsbredir !== true) {
    if (vv.enableUsbAutoshare) push('info', 'enable-usb-autoshare', 'has no effect unless enable-usbredir=1');
    if (vv.usbFilter !== undefined) push('info', 'usb-filter', 'has no effect unless enable-usbredir=1');
  }
  if (vv.proxy !== undefined && vv.unixPath === undefined) {
    if (/^https:\/\//i.test(vv.proxy.trim())) push('warning', 'proxy', 'https:// proxies work in remote-viewer but not in spicectl (http:// only)');
    else {
      try {
        parseProxyUrl(vv.proxy);
        const userinfo = /^(?:[a-z]+:\/\/)?([^/]*)@/i.exec(vv.proxy.trim())?.[1];
        if (userinfo && (/%[0-9A-Fa-f]{2}/.test(userinfo) || (userinfo.match(/:/g) ?? []).length > 1)) {
          push('warning', 'proxy', 'the credentials contain %-escapes or a second \':\': spicectl decodes them, but remote-viewer sends them as written (and cuts the password at the second \':\')');
        }
      } catch (e) {
        push('error', 'proxy', (e as Error).message.replace(/^proxy "[^"]*": /, ''));
      }
    }
  }
  if (vv.version !== undefined && !/^\d+(\.\d+)*(-\d+(\.\d+)*)?$/.test(vv.version)) {
    push('warning', 'version', `"${vv.version}" is not like 11.0 or 8.0-1: remote-viewer then considers the versions equal`);
  }
  for (const [os, ver] of vv.versions ?? []) {
    if (!/^\d+(\.\d+)*(-\d+(\.\d+)*)?$/.test(ver)) push('warning', 'versions', `${os}: "${ver}" is not a version like 11.0`);
  }
  if (vv.newerVersionUrl !== undefined && !/^https?:\/\/\S+$/i.test(vv.newerVersionUrl)) push('warning', 'newer-version-url', `"${vv.newerVersionUrl}" is not an http(s) URL`);
  if (vv.ovirt) {
    const o = vv.ovirt;
    if (o.host === undefined) push('warning', 'ovirt.host', 'missing: the [ovirt] group needs host= (the oVirt engine)');
    if (o.vmGuid === undefined) push('warning', 'ovirt.vm-guid', 'missing: the [ovirt] group needs vm-guid=');
    if (o.ca !== undefined) checkCa(o.ca, now, at('ovirt.ca'));
  }

  if (mode !== undefined) {
    const secrets = [
      vv.password !== undefined ? 'password' : null,
      vv.proxy !== undefined && /:\/\/[^/@]*:[^/@]*@/.test(vv.proxy) ? 'proxy' : null,
      vv.ovirt?.ssoToken !== undefined ? 'ovirt.sso-token' : null,
      vv.ovirt?.jsessionid !== undefined ? 'ovirt.jsessionid' : null,
    ].filter((s): s is string => s !== null);
    const perm = (mode & 0o777).toString(8).padStart(4, '0');
    for (const key of secrets) {
      const what = key === 'proxy' ? 'proxy credentials' : 'a secret';
      const later = vv.deleteThisFile ? ' (delete-this-file=1 removes it once opened, but until then it is exposed)' : '';
      if (mode & 0o004) push('warning', key, `${what} in a file every user can read (mode ${perm}): chmod 600 it${later}`);
      else if (mode & 0o040) push('info', key, `${what} in a file its group can read (mode ${perm}): chmod 600 it unless that is intended`);
    }
  }
}

function checkHost(vv: VvFile, push: (level: VvLevel, msg: string) => void): void {
  const h = vv.host!;
  if (h === '') push('error', 'empty host name');
  else if (/^\[.*\]$/.test(h)) push('error', `"${h}": write IPv6 addresses without brackets in host=`);
  else if (/^[^:]+:\d{1,5}$/.test(h) && vv.proxy === undefined) push('warning', `"${h}" looks like host:port: put the port in port= or tls-port=`);
  else if (/\s/.test(h.trim())) push('error', `"${h}" contains whitespace`);
  else if (isIP(h) === 0 && !/^[A-Za-z0-9._:-]+$/.test(h)) push('warning', `"${h}" is not a usual host name`);
}

/** Strict read: the typed file, or a SpiceError('input') naming the first error. */
export function parseVv(input: string | Buffer, opts: AnalyzeOptions = {}): VvFile {
  const { vv, findings } = analyzeVv(input, opts);
  const first = findings.find((f) => f.level === 'error');
  if (first || !vv) throw new SpiceError('input', first ? formatFinding('.vv', first) : '.vv: unreadable connection file');
  return vv;
}

/** Every problem of a .vv text: unknown keys, wrong types, missing keys, bad filter, CA, permissions... */
export function lintVv(input: string | Buffer, opts: AnalyzeOptions = {}): VvFinding[] {
  return analyzeVv(input, opts).findings;
}

/** "FILE: key: message" (errors), "FILE: key: warning: message", "FILE: key: note: message". */
export function formatFinding(file: string, f: VvFinding): string {
  const tag = f.level === 'error' ? '' : f.level === 'warning' ? 'warning: ' : 'note: ';
  return `${file}: ${f.key}: ${tag}${f.message}`;
}

// ---------------------------------------------------------------------------------------------
// Writing

/** Serialize a VvFile: [virt-viewer] (then [ovirt]), GLib escapes, lists with ';', CA with \n. */
export function serializeVv(vv: VvFile, opts: { comment?: string } = {}): string {
  if (!vv.type) throw new SpiceError('usage', 'a connection file needs a type (spice)');
  const entries: [string, string][] = [];
  for (const [key, kind, prop] of MAIN_KEYS) {
    let v: unknown;
    if (kind === 'hotkey') v = vv.hotkeys?.[key as HotkeyName];
    else v = prop ? vv[prop] : undefined;
    if (v === undefined) continue;
    switch (kind) {
      case 'string':
      case 'hotkey':
        // PEM written by some tools (node-forge) has CRLF line ends: remote-viewer expects \n.
        entries.push([key, escapeString(key === 'ca' ? String(v).replace(/\r\n/g, '\n') : String(v))]);
        break;
      case 'int':
      case 'port':
        if (!Number.isInteger(v)) throw new SpiceError('usage', `${key} must be an integer, not ${String(v)}`);
        entries.push([key, String(v)]);
        break;
      case 'bool':
        entries.push([key, v ? '1' : '0']);
        break;
      case 'list':
        entries.push([key, escapeStringList(v as string[])]);
        break;
      case 'versions':
        entries.push([key, escapeStringList((v as [string, string][]).map(([os, ver]) => `${os}:${ver}`))]);
        break;
    }
  }
  for (const [k, raw] of Object.entries(vv.extra ?? {})) entries.push([k, raw]);
  const groups: SerializeGroup[] = [{ name: MAIN_GROUP, entries, comments: opts.comment ? [` ${opts.comment}`] : undefined }];
  if (vv.ovirt) {
    const oe: [string, string][] = [];
    for (const [key, kind, prop] of OVIRT_KEYS) {
      const v = vv.ovirt[prop];
      if (v === undefined) continue;
      oe.push([key, kind === 'bool' ? (v ? '1' : '0') : escapeString(key === 'ca' ? String(v).replace(/\r\n/g, '\n') : String(v))]);
    }
    groups.push({ name: OVIRT_GROUP, entries: oe });
  }
  return serializeKeyFile(groups);
}

// ---------------------------------------------------------------------------------------------
// Connecting

/** What a .vv file means for a spicectl session (the fields of SessionOptions and more). */
export interface VvConnectOptions {
  endpoint: Endpoint;
  password?: string;
  username?: string;
  tls: TlsSettings;
  secureChannels?: string[];
  disableChannels?: string[];
  /** The file's proxy= (raw URL); resolve it with resolveProxy({ file: proxy }) (SPICE_PROXY fallback). */
  proxy?: string;
  title?: string;
  fullscreen: boolean;
  usb: { enabled: boolean; autoshare: boolean; filter?: string; redirectOnConnect?: string };
  hotkeys: Partial<Record<HotkeyName, string>>;
  deleteThisFile: boolean;
}

/** Turn a typed file into connect options; SpiceError('input') if it cannot name a SPICE server. */
export function vvToConnectOptions(vv: VvFile, source = '.vv'): VvConnectOptions {
  if (vv.type !== 'spice') throw new SpiceError('input', `${source}: type=${vv.type || '(empty)'}: spicectl connects to SPICE servers only (type=spice)`);
  let endpoint: Endpoint;
  if (vv.unixPath !== undefined) endpoint = { unixPath: vv.unixPath };
  else {
    if (!vv.host) throw new SpiceError('input', `${source}: host: missing: the file does not say which server to connect to`);
    if (vv.port === undefined && vv.tlsPort === undefined) throw new SpiceError('input', `${source}: port: neither port= nor tls-port= is set`);
    endpoint = { host: vv.host };
    if (vv.port !== undefined) endpoint.port = vv.port;
    if (vv.tlsPort !== undefined) endpoint.tlsPort = vv.tlsPort;
  }
  const tls: TlsSettings = {};
  if (vv.ca !== undefined) tls.ca = vv.ca;
  if (vv.hostSubject !== undefined) tls.hostSubject = vv.hostSubject;
  const o: VvConnectOptions = {
    endpoint,
    tls,
    fullscreen: vv.fullscreen ?? false,
    usb: { enabled: vv.enableUsbredir ?? false, autoshare: vv.enableUsbAutoshare ?? false },
    hotkeys: { ...vv.hotkeys },
    deleteThisFile: vv.deleteThisFile ?? false,
  };
  if (vv.password !== undefined) o.password = vv.password;
  if (vv.username !== undefined) o.username = vv.username;
  if (vv.secureChannels) o.secureChannels = vv.secureChannels.filter(Boolean);
  if (vv.disableChannels) o.disableChannels = vv.disableChannels.filter(Boolean);
  if (vv.proxy !== undefined && vv.unixPath === undefined) o.proxy = vv.proxy;
  if (vv.title !== undefined) o.title = vv.title;
  if (vv.usbFilter !== undefined) o.usb.filter = vv.usbFilter;
  if (vv.usbRedirectOnConnect !== undefined) o.usb.redirectOnConnect = vv.usbRedirectOnConnect;
  return o;
}

export interface LoadedVv extends VvConnectOptions {
  /** The path, or "-" for stdin. */
  source: string;
  vv: VvFile;
  /** Non-fatal findings (warnings, and errors in keys that do not affect the connection). */
  warnings: VvFinding[];
  /** true when delete-this-file=1 made us remove the file. */
  deleted: boolean;
}

export interface LoadVvOptions {
  env?: NodeJS.ProcessEnv;
  /** Reads stdin for "-" (default: process.stdin to the end). */
  readStdin?: () => Promise<string | Buffer>;
  now?: Date | number;
}

const readAllStdin = (): Promise<Buffer> =>
  readStdin({ bytes: MAX_VV_BYTES, error: () => new SpiceError('input', '-: more than 1 MiB on standard input: this is not a connection file') });

/**
 * Read a .vv file (or stdin for "-") for `spicectl connect`: everything a Session needs.
 * Like remote-viewer, a file with delete-this-file=1 is removed right after it was read (even if
 * it then turns out unusable), unless VIRT_VIEWER_KEEP_FILE is set; failing to remove it is not
 * an error. Throws SpiceError('input') (or 'tls' for ca/host-subject) when a key that decides
 * where or how to connect is wrong; other findings come back in `warnings`.
 */
export async function loadVvForConnect(pathOrDash: string, opts: LoadVvOptions = {}): Promise<LoadedVv> {
  const env = opts.env ?? process.env;
  const source = pathOrDash;
  let data: string | Buffer;
  let mode: number | undefined;
  if (pathOrDash === '-') {
    data = await (opts.readStdin ?? readAllStdin)();
  } else {
    try {
      const st = statSync(pathOrDash);
      if (!st.isFile()) throw new Error('not a regular file');
      if (st.size > MAX_VV_BYTES) throw new Error('larger than 1 MiB: not a connection file');
      mode = st.mode;
      data = readFileSync(pathOrDash);
    } catch (e) {
      throw new SpiceError('input', `cannot read connection file ${pathOrDash}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
  }
  const { vv, findings } = analyzeVv(data, { mode, now: opts.now });
  let deleted = false;
  if (vv?.deleteThisFile && pathOrDash !== '-' && !env.VIRT_VIEWER_KEEP_FILE) {
    try {
      unlinkSync(pathOrDash);
      deleted = true;
    } catch (e) {
      findings.push({ level: 'warning', key: 'delete-this-file', message: `could not remove the file: ${(e as Error).message}` });
    }
  }
  const fatal = findings.find((f) => f.level === 'error' && (CONNECTION_KEYS.has(f.key) || f.key.startsWith('line ') || !vv));
  if (fatal || !vv) {
    const f = fatal ?? findings[0];
    const msg = f ? formatFinding(source, f) : `${source}: not a connection file`;
    const more = findings.filter((x) => x.level === 'error').length > 1 ? ` (and more: run spicectl vv check ${source === '-' ? 'FILE' : source})` : '';
    throw new SpiceError(f && (f.key === 'ca' || f.key === 'host-subject') ? 'tls' : 'input', `${msg}${more}`);
  }
  const options = vvToConnectOptions(vv, source);
  return { ...options, source, vv, warnings: findings, deleted };
}

/** True when a connect argument names a connection file rather than a URI. */
export function looksLikeVvPath(arg: string): boolean {
  if (arg === '-') return true;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(arg)) return false;
  return /\.vv$/i.test(arg) || (() => {
    try {
      return statSync(arg).isFile();
    } catch {
      return false;
    }
  })();
}
