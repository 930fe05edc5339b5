import { Command, CommanderError } from 'commander';
import { ExitCode, SpiceError } from './util/errors.js';
import { printError } from './util/output.js';

/**
 * Subcommands, loaded on demand: a CLI run pays only for the command it runs (start-up time
 * is part of every measured connect and USB recognition).
 */
const COMMANDS: Record<string, () => Promise<(program: Command) => void>> = {
  connect: async () => (await import('./commands/connect.js')).registerConnect,
  usb: async () => (await import('./commands/usb.js')).registerUsb,
  vv: async () => (await import('./commands/vv.js')).registerVv,
  bench: async () => (await import('./commands/bench.js')).registerBench,
  clipboard: async () => (await import('./commands/clipboard.js')).registerClipboard,
  copy: async () => (await import('./commands/copy.js')).registerCopy,
  port: async () => (await import('./commands/port.js')).registerPort,
};

export async function buildProgram(argv: string[] = []): Promise<Command> {
  const program = new Command();
  program
    .name('spicectl')
    .description('A terminal client suite for SPICE remote displays')
    .version('0.1.0')
    .option('--log-level <level>', 'log level: fatal, error, warn, info, debug, trace (logs go to stderr)', 'warn')
    .option('--log-file <file>', 'write logs to this file instead of stderr')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  const sub = argv.slice(2).find((a) => !a.startsWith('-'));
  const names = sub && COMMANDS[sub] ? [sub] : Object.keys(COMMANDS);
  for (const register of await Promise.all(names.map((n) => COMMANDS[n]!()))) register(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  // A reader that went away (spicectl ... | head) must not crash a session mid-cleanup.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
  });
  try {
    const program = await buildProgram(argv);
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version are successful exits; everything else is a usage error
      return e.exitCode === 0 ? 0 : ExitCode.usage;
    }
    if (e instanceof SpiceError) {
      printError(e.message);
      return e.exitCode;
    }
    printError(`internal error: ${(e as Error)?.stack ?? String(e)}`);
    return 1;
  }
}
