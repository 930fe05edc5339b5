// Process helpers for the e2e harness: children in their own process group (setsid), killed as a
// whole tree on stop() and on process exit, plus small polling helpers.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

export { sleep };

/** Wait for p, at most ms (the timer does not outlive the wait). */
export async function within(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/** Repository root (test/e2e/harness/../../..). */
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** Process groups we started and not yet stopped (killed when this process exits), with an
 *  optional list of pids to SIGTERM instead of the whole group. */
const liveGroups = new Map<number, { termPids?: () => number[] }>();
let hooksInstalled = false;

/** Synchronous (usable in an 'exit' hook): SIGTERM to every live group, up to graceMs for them
 *  to go, then SIGKILL to what is left. */
function killGroupsNow(graceMs = 1500): void {
  const groups: number[] = [];
  for (const [g, entry] of liveGroups) {
    const pids = entry.termPids?.() ?? [];
    if (pids.length) {
      for (const p of pids) {
        try {
          process.kill(p, 'SIGTERM');
        } catch {
          /* gone */
        }
      }
      groups.push(g);
    } else if (signalGroup(g, 'SIGTERM')) groups.push(g);
  }
  const nap = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline && groups.some((g) => groupPids(g).length > 0)) Atomics.wait(nap, 0, 0, 50);
  for (const g of groups) signalGroup(g, 'SIGKILL');
  liveGroups.clear();
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => killGroupsNow());
  // On a signal: kill our children, then die of the same signal (the once-listener is gone by then,
  // so the default action applies unless someone else handles it).
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      killGroupsNow();
      process.kill(process.pid, sig);
    });
  }
}

/** A directory for one server's state and logs (kept after stop for debugging).
 *  Root: $SPICECTL_E2E_STATE or $TMPDIR/spicectl-e2e. */
export function makeStateDir(prefix: string): string {
  const root = process.env.SPICECTL_E2E_STATE || join(tmpdir(), 'spicectl-e2e');
  mkdirSync(root, { recursive: true });
  return mkdtempSync(join(root, `${prefix}-`));
}

export interface Spawned {
  child: ChildProcess;
  pid: number;
  /** true while the process has not exited (Node reaps its own children, so no zombies here). */
  running(): boolean;
  /** Resolves with the exit code (or signal name) when the process has exited. */
  exited: Promise<number | string>;
  /** SIGTERM to the process group, SIGKILL to the group after graceMs. Idempotent. */
  stop(graceMs?: number): Promise<void>;
  /** If set, the exit hook sends SIGTERM to these pids instead of to the whole group (then
   *  SIGKILL to the group as usual). For wrappers that handle SIGTERM badly. */
  termPids?: () => number[];
}

/**
 * Start a command detached (setsid: new session and process group), stdout+stderr appended to
 * logFile (or ignored), stdin /dev/null. The group is registered for the exit hook.
 */
export function spawnGroup(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; logFile?: string } = {},
): Spawned {
  installExitHooks();
  let fd: number | undefined;
  if (opts.logFile) fd = openSync(opts.logFile, 'a');
  const spawnOpts: SpawnOptions = {
    detached: true,
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', fd ?? 'ignore', fd ?? 'ignore'],
  };
  const child = spawn(cmd, args, spawnOpts);
  if (fd !== undefined) closeSync(fd);
  let done = false;
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      done = true;
      resolve(code ?? signal ?? -1);
    });
    child.once('error', (err) => {
      done = true;
      resolve(`spawn error: ${err.message}`);
    });
  });
  const pid = child.pid ?? -1;
  const entry: { termPids?: () => number[] } = {};
  if (pid > 0) liveGroups.set(pid, entry);
  child.unref();
  let stopping: Promise<void> | undefined;
  const stop = (graceMs = 3000): Promise<void> => {
    stopping ??= (async () => {
      if (pid <= 0) return;
      signalGroup(pid, 'SIGTERM');
      if (!done) await within(exited, graceMs);
      // The leader may be gone while others in its group live on: always finish with SIGKILL.
      signalGroup(pid, 'SIGKILL');
      if (!done) await within(exited, 2000);
      liveGroups.delete(pid);
    })();
    return stopping;
  };
  const spawned: Spawned = { child, pid, running: () => !done, exited, stop };
  entry.termPids = () => spawned.termPids?.() ?? [];
  return spawned;
}

/** Send a signal to a process group; false if it does not exist. */
export function signalGroup(pgid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, sig);
    return true;
  } catch {
    return false;
  }
}

/** /proc/PID/stat fields we need; undefined if the process does not exist. */
export function procStat(pid: number): { state: string; ppid: number; pgrp: number; comm: string } | undefined {
  let s: string;
  try {
    s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const close = s.lastIndexOf(')');
  const comm = s.slice(s.indexOf('(') + 1, close);
  const f = s.slice(close + 2).split(' ');
  return { state: f[0]!, ppid: Number(f[1]), pgrp: Number(f[2]), comm };
}

/** True if PID exists and is not a zombie. */
export function alive(pid: number): boolean {
  const st = procStat(pid);
  return st !== undefined && st.state !== 'Z' && st.state !== 'X';
}

/** Direct children of PID (scan of /proc). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = procStat(Number(name));
    if (st && st.ppid === pid) out.push(Number(name));
  }
  return out;
}

/** Members of a process group (scan of /proc), zombies excluded. */
export function groupPids(pgid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = procStat(Number(name));
    if (st && st.pgrp === pgid && st.state !== 'Z') out.push(Number(name));
  }
  return out;
}

/** Poll fn every intervalMs until it returns a truthy value; throws `what` on timeout. */
export async function waitFor<T>(
  fn: () => T | undefined | false | null | Promise<T | undefined | false | null>,
  timeoutMs: number,
  what: string,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() >= deadline) throw new Error(`timeout after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** Run a command to completion; resolves with stdout/stderr, rejects on non-zero exit or timeout. */
export function run(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {},
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: opts.timeoutMs ?? 60_000,
      killSignal: 'SIGKILL',
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === 0) resolve({ stdout, stderr });
      else
        reject(
          new Error(
            `${cmd} ${args.join(' ')} failed (${signal ?? `exit ${code}`}): ${stderr.trim().slice(-2000)}`,
          ),
        );
    });
  });
}

/** Last n lines of a log file ('' if unreadable), for error messages. */
export function tail(file: string, n = 20): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-n - 1).join('\n');
  } catch {
    return '';
  }
}
