// QEMU with a SPICE server on 127.0.0.1 and the tiny test guest (Debian kernel + busybox
// initramfs built by scripts/build-guest.sh). The guest prints "MARK <event> <uptime> k=v..."
// lines on its serial console (test/e2e/harness/guest-init); waitMark() follows that log.
import { closeSync, existsSync, openSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, waitListening } from './ports.js';
import { makeStateDir, repoRoot, run, sleep, spawnGroup, tail } from './proc.js';
import { QmpClient } from './qmp.js';

export interface QemuOptions {
  /** SPICE password (-object secret + password-secret=); without it ticketing is disabled. */
  password?: string;
  /** Also listen with TLS: tls-port on a free port, x509-dir=dir (ca-cert.pem, server-cert.pem,
   *  server-key.pem; see test/helpers/test-ca.ts). */
  tls?: { dir: string };
  /** USB controller for the usb-redir ports (default 'xhci'; 'ehci' = ICH9 EHCI + 3 UHCI companions). */
  controller?: 'xhci' | 'ehci';
  /** Number of usb-redir ports (spicevmc chardevs), default 2. */
  usbredir?: number;
  /** Extra kernel command line, e.g. "guest.delay_use=0 guest.write=1 quiet". */
  append?: string;
  /** More -spice options, e.g. "tls-channel=default" or "image-compression=quic". */
  spiceOpts?: string;
  /** More QEMU arguments. */
  extraArgs?: string[];
  /** Guest memory (default 256M). */
  mem?: string;
  /** 'tcg' (default; $SPICECTL_E2E_ACCEL overrides) or 'kvm' (-enable-kvm -cpu host). */
  accel?: 'tcg' | 'kvm';
  /** Guest directory (default .cache/guest; built/updated with scripts/build-guest.sh). */
  guestDir?: string;
  /** Wait for "MARK boot-done" (default true). */
  waitBoot?: boolean;
  /** Milliseconds to wait for boot-done (default 120000; TCG boots in ~10 s here). */
  bootTimeoutMs?: number;
}

export interface Mark {
  /** The whole line. */
  line: string;
  /** Event name (field 2) for MARK lines, else ''. */
  event: string;
  /** Guest uptime in seconds (field 3) for MARK lines, else NaN. */
  uptime: number;
  /** key=value fields of a MARK line. */
  fields: Record<string, string>;
  /** The regex match. */
  match: RegExpMatchArray;
  /** Byte offset just after this line: pass it as fromOffset to wait for the next event. */
  offset: number;
  /** Date.now() when the harness saw the line. */
  seenAt: number;
}

export interface QemuServer {
  port: number;
  tlsPort?: number;
  pid: number;
  stateDir: string;
  /** Guest serial console (MARK lines, kernel messages). */
  serialLog: string;
  /** QMP socket for commands (one client at a time). */
  qmpSocket: string;
  /** Second QMP socket, for an event listener. */
  qmpEventsSocket: string;
  /** QEMU's own stdout/stderr. */
  qemuLog: string;
  /** Milliseconds from QEMU start to "MARK boot-done" (undefined with waitBoot: false). */
  bootMs?: number;
  /** Current size of the serial log (an offset for waitMark). */
  serialSize(): number;
  /** Wait for a serial line matching re (a string = a MARK event name) at or after fromOffset. */
  waitMark(re: RegExp | string, timeoutMs?: number, fromOffset?: number): Promise<Mark>;
  /** Run one QMP command on qmpSocket (calls are serialized). */
  qmp<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T>;
  /** Run a human-monitor command through QMP, e.g. "info usb". */
  hmp(commandLine: string): Promise<string>;
  /** Stop QEMU (SIGTERM, then SIGKILL to its process group). Idempotent. */
  stop(): Promise<void>;
}

const guestBuilds = new Map<string, Promise<void>>();

/** Build (or check) the guest in dir with scripts/build-guest.sh; once per process and dir. */
export function ensureGuest(dir = join(repoRoot, '.cache/guest')): Promise<string> {
  let p = guestBuilds.get(dir);
  if (!p) {
    p = run(join(repoRoot, 'scripts/build-guest.sh'), [dir], { timeoutMs: 300_000 }).then(() => undefined);
    guestBuilds.set(dir, p);
    p.catch(() => guestBuilds.delete(dir));
  }
  return p.then(() => dir);
}

/** Parse "MARK event uptime k=v k=v" (anywhere in the line). */
export function parseMark(line: string): { event: string; uptime: number; fields: Record<string, string> } {
  const m = /MARK (\S+) ([0-9.]+)(.*)$/.exec(line);
  if (!m) return { event: '', uptime: NaN, fields: {} };
  const fields: Record<string, string> = {};
  for (const kv of m[3]!.trim().split(/\s+/)) {
    const i = kv.indexOf('=');
    if (i > 0) fields[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return { event: m[1]!, uptime: Number(m[2]), fields };
}

function markRegex(re: RegExp | string): RegExp {
  if (typeof re !== 'string') return re;
  return new RegExp(`MARK ${re.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?: |$)`);
}

/** Follow a log file from fromOffset until a complete line matches re. */
export async function waitLogLine(
  file: string,
  re: RegExp,
  timeoutMs: number,
  fromOffset = 0,
  check?: () => void,
): Promise<Omit<Mark, 'event' | 'uptime' | 'fields'>> {
  const deadline = Date.now() + timeoutMs;
  let pos = fromOffset;
  let pending = Buffer.alloc(0);
  const chunk = Buffer.alloc(65536);
  for (;;) {
    let fd: number | undefined;
    try {
      fd = openSync(file, 'r');
    } catch {
      /* not created yet */
    }
    if (fd !== undefined) {
      try {
        for (;;) {
          const n = readSync(fd, chunk, 0, chunk.length, pos);
          if (n <= 0) break;
          pos += n;
          pending = Buffer.concat([pending, chunk.subarray(0, n)]);
          let nl: number;
          while ((nl = pending.indexOf(10)) >= 0) {
            const lineEnd = pos - pending.length + nl + 1;
            const line = pending.subarray(0, nl).toString('utf8').replace(/\r$/, '');
            pending = pending.subarray(nl + 1);
            const match = line.match(re);
            if (match) return { line, match, offset: lineEnd, seenAt: Date.now() };
          }
        }
      } finally {
        closeSync(fd);
      }
    }
    check?.();
    if (Date.now() >= deadline) throw new Error(`timeout after ${timeoutMs} ms waiting for ${re} in ${file}\n${tail(file, 15)}`);
    await sleep(5);
  }
}

/** Start QEMU (TCG) with SPICE on 127.0.0.1 and the test guest; by default waits for boot-done. */
export async function startQemu(opts: QemuOptions = {}): Promise<QemuServer> {
  const guest = await ensureGuest(opts.guestDir);
  const stateDir = makeStateDir('qemu');
  const serialLog = join(stateDir, 'serial.log');
  const qmpSocket = join(stateDir, 'qmp.sock');
  const qmpEventsSocket = join(stateDir, 'qmp-events.sock');
  const qemuLog = join(stateDir, 'qemu.log');
  const port = await freePort();
  const tlsPort = opts.tls ? await freePort() : undefined;

  const args: string[] = [];
  let spice = `port=${port},addr=127.0.0.1`;
  if (opts.tls && tlsPort) spice += `,tls-port=${tlsPort},x509-dir=${opts.tls.dir}`;
  if (opts.password !== undefined) {
    const pwFile = join(stateDir, 'spice-password');
    writeFileSync(pwFile, opts.password, { mode: 0o600 });
    args.push('-object', `secret,id=spicepw,file=${pwFile}`);
    spice += ',password-secret=spicepw';
  } else {
    spice += ',disable-ticketing=on';
  }
  if (opts.spiceOpts) spice += `,${opts.spiceOpts}`;

  const accel = opts.accel ?? (process.env.SPICECTL_E2E_ACCEL === 'kvm' ? 'kvm' : 'tcg');
  const usb: string[] = [];
  if ((opts.controller ?? 'xhci') === 'xhci') {
    usb.push('-device', 'qemu-xhci,id=usb,p2=8,p3=8');
  } else {
    // ICH9 EHCI with UHCI companions, the layout libvirt/virt-manager use for usbredir.
    usb.push(
      '-device', 'ich9-usb-ehci1,id=usb,addr=1d.7,multifunction=on',
      '-device', 'ich9-usb-uhci1,masterbus=usb.0,firstport=0,addr=1d.0,multifunction=on',
      '-device', 'ich9-usb-uhci2,masterbus=usb.0,firstport=2,addr=1d.1',
      '-device', 'ich9-usb-uhci3,masterbus=usb.0,firstport=4,addr=1d.2',
    );
  }
  for (let i = 1; i <= (opts.usbredir ?? 2); i++) {
    usb.push(
      '-chardev', `spicevmc,name=usbredir,id=usbredirchardev${i}`,
      '-device', `usb-redir,chardev=usbredirchardev${i},id=usbredirdev${i},bus=usb.0`,
    );
  }
  args.push(
    '-name', `spicectl-e2e-${port}`, '-nodefaults', '-no-user-config', '-no-reboot',
    ...(accel === 'kvm' ? ['-enable-kvm', '-cpu', 'host'] : ['-accel', 'tcg', '-cpu', 'max']),
    '-m', opts.mem ?? '256M', '-smp', '1',
    '-kernel', join(guest, 'vmlinuz'), '-initrd', join(guest, 'initrd.gz'),
    '-append', `console=tty0 console=ttyS0 panic=-1 ${opts.append ?? ''}`.trim(),
    '-vga', 'none', '-device', 'qxl-vga,id=video0', '-display', 'none',
    '-spice', spice,
    ...usb,
    '-device', 'virtio-serial-pci,id=vser0',
    '-chardev', 'spicevmc,id=vdagent,name=vdagent',
    '-device', 'virtserialport,bus=vser0.0,chardev=vdagent,name=com.redhat.spice.0',
    '-chardev', `file,id=ser0,path=${serialLog}`, '-serial', 'chardev:ser0',
    '-qmp', `unix:${qmpSocket},server=on,wait=off`,
    '-qmp', `unix:${qmpEventsSocket},server=on,wait=off`,
    ...(opts.extraArgs ?? []),
  );
  writeFileSync(join(stateDir, 'cmdline'), ['qemu-system-x86_64', ...args].map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a}'`)).join(' ') + '\n');
  writeFileSync(serialLog, '');

  const t0 = Date.now();
  const proc = spawnGroup('qemu-system-x86_64', args, { logFile: qemuLog });
  const check = () => {
    if (!proc.running()) throw new Error(`QEMU exited early:\n${tail(qemuLog)}`);
  };

  let qmpChain: Promise<unknown> = Promise.resolve();
  const qmp = <T>(command: string, a?: Record<string, unknown>): Promise<T> => {
    const p = qmpChain.then(async () => {
      const c = await QmpClient.connect(qmpSocket);
      try {
        return await c.execute<T>(command, a);
      } finally {
        c.close();
      }
    });
    qmpChain = p.catch(() => undefined);
    return p;
  };
  let stopped: Promise<void> | undefined;
  const server: QemuServer = {
    port,
    tlsPort,
    pid: proc.pid,
    stateDir,
    serialLog,
    qmpSocket,
    qmpEventsSocket,
    qemuLog,
    serialSize: () => {
      try {
        return statSync(serialLog).size;
      } catch {
        return 0;
      }
    },
    waitMark: async (re, timeoutMs = 30_000, fromOffset = 0) => {
      const r = await waitLogLine(serialLog, markRegex(re), timeoutMs, fromOffset, check);
      return { ...r, ...parseMark(r.line) };
    },
    qmp,
    hmp: (commandLine) => qmp<string>('human-monitor-command', { 'command-line': commandLine }),
    stop: () =>
      (stopped ??= (async () => {
        await proc.stop(3000);
        for (const s of [qmpSocket, qmpEventsSocket]) if (existsSync(s)) rmSync(s, { force: true });
      })()),
  };
  try {
    await waitListening(port, 20_000, check);
    if (tlsPort) await waitListening(tlsPort, 20_000, check);
    if (opts.waitBoot ?? true) {
      await server.waitMark('boot-done', opts.bootTimeoutMs ?? 120_000);
      server.bootMs = Date.now() - t0;
    }
  } catch (err) {
    await server.stop();
    throw new Error(`startQemu failed (logs in ${stateDir}): ${(err as Error).message}`);
  }
  return server;
}
