// Client processes for the benchmarks: started under GNU time (exact user/sys CPU and peak RSS
// of the client, taken by the kernel at its exit), in their own process group, with stdout and
// stderr captured, plus /proc sampling while they run (CPU over a window, peak RSS so far).
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

const live = new Set<number>();
let hooks = false;
function installHooks(): void {
  if (hooks) return;
  hooks = true;
  process.on('exit', () => {
    for (const g of live) {
      try {
        process.kill(-g, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  });
}

/** user+system CPU seconds of a live process (from /proc/PID/stat), or undefined. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

/** Peak resident set size so far (VmHWM, KiB), or undefined. */
export function peakRssKb(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

export interface TimedResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** spawn to exit, as seen from here */
  wallMs: number;
  /** from GNU time: CPU seconds and peak RSS of the command (its largest process) */
  userS: number;
  sysS: number;
  maxRssKb: number;
}

export interface TimedProcess {
  /** pid of GNU time (the process group leader) */
  pid: number;
  /** pid of the command itself, once it has been exec'd (undefined before) */
  commandPid(): number | undefined;
  /** sends sig to the command only (GNU time ignores SIGINT/SIGQUIT while it waits) */
  signal(sig: NodeJS.Signals): void;
  done: Promise<TimedResult>;
  /** SIGKILL to the whole group */
  kill(): void;
}

/** Starts cmd under /usr/bin/time in a new process group. */
export function startTimed(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): TimedProcess {
  installHooks();
  const dir = mkdtempSync(join(tmpdir(), 'spicectl-bench-time-'));
  const timeFile = join(dir, 'time');
  const t0 = performance.now();
  const child = spawn('/usr/bin/time', ['-f', 'TIME %U %S %M', '-o', timeFile, cmd, ...args], {
    detached: true,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid!;
  live.add(pid);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let cmdPid: number | undefined;
  const commandPid = () => {
    if (cmdPid) return cmdPid;
    try {
      const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
      if (kids.length) cmdPid = kids[0];
    } catch {
      /* gone or not yet */
    }
    return cmdPid;
  };
  const kill = () => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  };
  const timer = opts.timeoutMs ? setTimeout(kill, opts.timeoutMs) : undefined;
  const done = new Promise<TimedResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(pid);
      const wallMs = performance.now() - t0;
      let userS = NaN;
      let sysS = NaN;
      let maxRssKb = NaN;
      try {
        const line = readFileSync(timeFile, 'utf8').split('\n').find((l) => l.startsWith('TIME '));
        if (line) [userS, sysS, maxRssKb] = line.slice(5).trim().split(/\s+/).map(Number) as [number, number, number];
      } catch {
        /* killed before time wrote it */
      }
      rmSync(dir, { recursive: true, force: true });
      resolve({ code, signal, stdout, stderr, wallMs, userS, sysS, maxRssKb });
    });
  });
  return {
    pid,
    commandPid,
    signal: (sig) => {
      const p = commandPid();
      if (p) {
        try {
          process.kill(p, sig);
        } catch {
          /* gone */
        }
      }
    },
    done,
    kill,
  };
}

/** Waits until the command behind GNU time has been exec'd (its pid is known). */
export async function waitCommandPid(p: TimedProcess, timeoutMs = 5000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const c = p.commandPid();
    if (c) return c;
    if (Date.now() > deadline) throw new Error('the command did not start');
    await sleep(5);
  }
}

/** The last top-level JSON object printed on stdout (pretty or one line). */
export function lastJson<T = Record<string, unknown>>(stdout: string): T | undefined {
  const t = stdout.trimEnd();
  for (let i = t.lastIndexOf('{'); i >= 0; i = t.lastIndexOf('{', i - 1)) {
    if (i > 0 && t[i - 1] !== '\n') continue;
    try {
      return JSON.parse(t.slice(i)) as T;
    } catch {
      /* not the start of the last object yet */
    }
  }
  return undefined;
}
