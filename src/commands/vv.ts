// spicectl vv generate | check: write remote-viewer connection files, and lint them.
// Thin adapter over src/session/vv.ts: options in, text or JSON on stdout, SpiceError out.
import type { Command } from 'commander';
import { closeSync, fchmodSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { SpiceError } from '../util/errors.js';
import { readStdin } from '../util/stdin.js';
import { printError, printJson, printLine } from '../util/output.js';
import { resolvePassword } from '../util/secrets.js';
import { parseSpiceUri } from '../session/uri.js';
import { analyzeVv, formatFinding, HOTKEYS, serializeVv, type HotkeyName, type VvFile, type VvFinding } from '../session/vv.js';

export interface GenerateFlags {
  type?: string;
  host?: string;
  port?: string;
  tlsPort?: string;
  unixPath?: string;
  username?: string;
  passwordFile?: string;
  passwordEnv?: string;
  passwordStdin?: boolean;
  title?: string;
  caFile?: string;
  hostSubject?: string;
  secureChannels?: string;
  disableChannels?: string;
  proxy?: string;
  fullscreen?: boolean;
  enableUsbredir?: boolean;
  usbFilter?: string;
  enableUsbAutoshare?: boolean;
  deleteThisFile?: boolean;
  toggleFullscreen?: string;
  releaseCursor?: string;
  hotkey?: string[];
  minVersion?: string;
  versions?: string;
  newerVersionUrl?: string;
  output?: string;
}

export interface CheckFlags {
  json?: boolean;
  strict?: boolean;
}

/** Lint key -> the generate flag that sets it (for error messages). */
const FLAG_OF: Record<string, string> = {
  type: '--type', host: '--host', port: '--port', 'tls-port': '--tls-port', 'unix-path': '--unix-path', username: '--username',
  password: 'the password', title: '--title', ca: '--ca-file', 'host-subject': '--host-subject',
  'secure-channels': '--secure-channels', 'disable-channels': '--disable-channels', proxy: '--proxy',
  fullscreen: '--fullscreen', 'enable-usbredir': '--enable-usbredir', 'usb-filter': '--usb-filter',
  'enable-usb-autoshare': '--enable-usb-autoshare', 'delete-this-file': '--delete-this-file',
  'toggle-fullscreen': '--toggle-fullscreen', 'release-cursor': '--release-cursor', version: '--min-version',
  versions: '--versions', 'newer-version-url': '--newer-version-url',
};

const list = (v?: string) => (v === undefined ? undefined : v.split(/[,;]/).map((s) => s.trim()).filter(Boolean));

function port(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d{1,5}$/.test(v) || Number(v) < 1 || Number(v) > 65535) throw new SpiceError('usage', `${flag} "${v}": expected a port 1-65535`);
  return Number(v);
}

function readCaFile(file: string): string {
  try {
    if (statSync(file).size > 1024 * 1024) throw new Error('larger than 1 MiB');
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new SpiceError('input', `--ca-file ${file}: cannot read it: ${(e as Error).message}`);
  }
}

/** Build the VvFile the generate flags describe (flags override what the URI says). */
export async function buildVvFromFlags(uri: string | undefined, flags: GenerateFlags, env = process.env): Promise<VvFile> {
  const vv: VvFile = { type: flags.type ?? 'spice' };
  let inlinePassword: string | undefined;
  if (uri !== undefined) {
    const ep = parseSpiceUri(uri);
    if (ep.unixPath !== undefined) vv.unixPath = ep.unixPath;
    if (ep.host !== undefined) vv.host = ep.host;
    if (ep.port !== undefined) vv.port = ep.port;
    if (ep.tlsPort !== undefined) vv.tlsPort = ep.tlsPort;
    inlinePassword = ep.password;
  }
  if (flags.host !== undefined) vv.host = flags.host;
  if (flags.port !== undefined) vv.port = port(flags.port, '--port');
  if (flags.tlsPort !== undefined) vv.tlsPort = port(flags.tlsPort, '--tls-port');
  if (flags.unixPath !== undefined) vv.unixPath = flags.unixPath;
  if (flags.username !== undefined) vv.username = flags.username;
  const password = await resolvePassword({ passwordFile: flags.passwordFile, passwordEnv: flags.passwordEnv, passwordStdin: flags.passwordStdin, inline: inlinePassword }, env);
  if (password !== undefined) vv.password = password;
  if (flags.title !== undefined) vv.title = flags.title;
  if (flags.caFile !== undefined) vv.ca = readCaFile(flags.caFile).replace(/\r\n/g, '\n').replace(/\s+$/, '\n');
  if (flags.hostSubject !== undefined) vv.hostSubject = flags.hostSubject;
  if (flags.secureChannels !== undefined) vv.secureChannels = list(flags.secureChannels);
  if (flags.disableChannels !== undefined) vv.disableChannels = list(flags.disableChannels);
  if (flags.proxy !== undefined) vv.proxy = flags.proxy;
  if (flags.fullscreen) vv.fullscreen = true;
  if (flags.enableUsbredir) vv.enableUsbredir = true;
  if (flags.usbFilter !== undefined) vv.usbFilter = flags.usbFilter;
  if (flags.enableUsbAutoshare) vv.enableUsbAutoshare = true;
  if (flags.deleteThisFile) vv.deleteThisFile = true;
  const hotkeys: Partial<Record<HotkeyName, string>> = {};
  for (const h of flags.hotkey ?? []) {
    const eq = h.indexOf('=');
    const name = h.slice(0, eq) as HotkeyName;
    if (eq < 0 || !HOTKEYS.includes(name)) throw new SpiceError('usage', `--hotkey "${h}": expected ACTION=KEYS with ACTION one of ${HOTKEYS.join(', ')}`);
    hotkeys[name] = h.slice(eq + 1);
  }
  if (flags.toggleFullscreen !== undefined) hotkeys['toggle-fullscreen'] = flags.toggleFullscreen;
  if (flags.releaseCursor !== undefined) hotkeys['release-cursor'] = flags.releaseCursor;
  if (Object.keys(hotkeys).length) vv.hotkeys = hotkeys;
  if (flags.minVersion !== undefined) vv.version = flags.minVersion;
  if (flags.versions !== undefined) {
    vv.versions = list(flags.versions)!.map((item) => {
      const c = item.indexOf(':');
      if (c <= 0) throw new SpiceError('usage', `--versions "${item}": expected OSID:VERSION, e.g. rhel8:11.0`);
      return [item.slice(0, c), item.slice(c + 1)] as [string, string];
    });
  }
  if (flags.newerVersionUrl !== undefined) vv.newerVersionUrl = flags.newerVersionUrl;
  return vv;
}

/** Write a file that may hold a password: created 0600, and forced to 0600 if it existed. */
export function writePrivateFile(path: string, text: string): void {
  let fd: number;
  try {
    fd = openSync(path, 'w', 0o600);
  } catch (e) {
    throw new SpiceError('input', `cannot write ${path}: ${(e as Error).message}`);
  }
  try {
    fchmodSync(fd, 0o600);
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

/** spicectl vv generate: returns the exit code; prints the file (or writes -o FILE 0600). */
export async function generateAction(uri: string | undefined, flags: GenerateFlags, env = process.env): Promise<number> {
  const vv = await buildVvFromFlags(uri, flags, env);
  const text = serializeVv(vv, { comment: 'written by spicectl vv generate' });
  // Check what we are about to write with the same lint `vv check` runs (as a 0600 file).
  const { findings } = analyzeVv(text, { mode: 0o600 });
  const flagged = (f: VvFinding) => `${FLAG_OF[f.key] ?? f.key}: ${f.message}`;
  const errors = findings.filter((f) => f.level === 'error');
  if (errors.length) {
    const first = errors[0]!;
    const more = errors.length > 1 ? `; also ${errors.slice(1).map(flagged).join('; ')}` : '';
    throw new SpiceError(first.key === 'ca' ? 'input' : 'usage', `vv generate: ${flagged(first)}${more}`);
  }
  for (const f of findings) if (f.level === 'warning') printError(`warning: ${flagged(f)}`);
  if (flags.output === undefined || flags.output === '-') process.stdout.write(text);
  else writePrivateFile(flags.output, text);
  return 0;
}

interface FileReport {
  file: string;
  ok: boolean;
  errors: number;
  warnings: number;
  findings: VvFinding[];
}


/** Lint one file ("-" = stdin); unreadable files are reported as an error finding. */
export async function checkFile(file: string, opts: { now?: Date | number } = {}): Promise<FileReport> {
  let findings: VvFinding[];
  try {
    let data: Buffer;
    let mode: number | undefined;
    if (file === '-') data = await readStdin();
    else {
      const st = statSync(file);
      if (!st.isFile()) throw new Error('not a regular file');
      if (st.size > 1024 * 1024) throw new Error(`${st.size} bytes: larger than 1 MiB, not a connection file`);
      mode = st.mode;
      data = readFileSync(file);
    }
    findings = analyzeVv(data, { mode, now: opts.now }).findings;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    findings = [{ level: 'error', key: 'file', message: `cannot read it: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (e as Error).message}` }];
  }
  const errors = findings.filter((f) => f.level === 'error').length;
  const warnings = findings.filter((f) => f.level === 'warning').length;
  return { file, ok: errors === 0, errors, warnings, findings };
}

/** spicectl vv check: exit 0 when no file has an error (with --strict: nor a warning), else 1. */
export async function checkAction(files: string[], flags: CheckFlags): Promise<number> {
  const reports: FileReport[] = [];
  for (const f of files) reports.push(await checkFile(f));
  const failed = reports.some((r) => r.errors > 0 || (flags.strict && r.warnings > 0));
  if (flags.json) {
    printJson({ ok: !failed, files: reports });
  } else {
    for (const r of reports) {
      for (const f of r.findings) printLine(formatFinding(r.file, f));
      if (r.ok) printLine(`${r.file}: ok${r.warnings ? ` (${r.warnings} warning${r.warnings > 1 ? 's' : ''})` : ''}`);
    }
  }
  return failed ? 1 : 0;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function registerVv(program: Command): void {
  const vv = program.command('vv').description('remote-viewer connection files (.vv): generate and check them');

  vv.command('generate')
    .description('write a .vv connection file for remote-viewer (and spicectl connect FILE.vv)')
    .argument('[uri]', 'spice://host:port, spice://host?port=P&tls-port=T, spice+tls://host:port or spice+unix:///path (flags override it)')
    .option('--type <type>', 'session type', 'spice')
    .option('--host <host>', 'server host')
    .option('--port <port>', 'plain port')
    .option('--tls-port <port>', 'TLS port')
    .option('--unix-path <path>', 'unix socket of the server (instead of host and ports)')
    .option('--username <name>', 'user name (SASL)')
    .option('--password-file <file>', 'put the password read from this file into the .vv')
    .option('--password-env <name>', 'put the password from this environment variable into the .vv')
    .option('--password-stdin', 'put the password read from standard input into the .vv')
    .option('--title <title>', 'window title')
    .option('--ca-file <file>', 'CA certificate(s), PEM, to inline as ca=')
    .option('--host-subject <subject>', 'expected server certificate subject, e.g. "C=XX,O=Org,CN=host"')
    .option('--secure-channels <list>', 'channels that must use TLS (main,display,... or all)')
    .option('--disable-channels <list>', 'channels not to open')
    .option('--proxy <url>', 'HTTP CONNECT proxy, http://[user:pass@]host:port')
    .option('--fullscreen', 'start fullscreen')
    .option('--enable-usbredir', 'enable USB redirection')
    .option('--usb-filter <filter>', 'USB auto-connect filter, class,vendor,product,version,allow|...')
    .option('--enable-usb-autoshare', 'redirect newly plugged USB devices automatically')
    .option('--delete-this-file', 'ask the client to delete the file once it has read it')
    .option('--toggle-fullscreen <keys>', 'hotkey, e.g. shift+f11')
    .option('--release-cursor <keys>', 'hotkey, e.g. shift+f12')
    .option('--hotkey <action=keys>', `any hotkey (${HOTKEYS.join(', ')}); repeatable`, collect)
    .option('--min-version <version>', 'minimum remote-viewer version (version=)')
    .option('--versions <list>', 'minimum versions per client OS, "osid:version;osid:version"')
    .option('--newer-version-url <url>', 'URL shown when the version check fails')
    .option('-o, --output <file>', 'write the file (mode 0600) instead of printing it')
    .action(async (uri: string | undefined, flags: GenerateFlags) => {
      process.exitCode = await generateAction(uri, flags);
    });

  vv.command('check')
    .description('lint .vv files: syntax, key types, missing keys, USB filters, CA, permissions (exit 1 on errors)')
    .argument('<files...>', '.vv files ("-" reads standard input)')
    .option('--json', 'print one JSON report')
    .option('--strict', 'treat warnings as errors')
    .action(async (files: string[], flags: CheckFlags, cmd: Command) => {
      const globals = cmd.optsWithGlobals() as CheckFlags;
      process.exitCode = await checkAction(files, { ...globals, ...flags });
    });
}
