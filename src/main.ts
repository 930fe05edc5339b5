import { Command, CommanderError } from 'commander';
import { registerConnect } from './commands/connect.js';
import { registerVv } from './commands/vv.js';
import { registerUsb } from './commands/usb.js';
import { ExitCode, SpiceError } from './util/errors.js';
import { printError } from './util/output.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('spicectl')
    .description('A terminal client suite for SPICE remote displays')
    .version('0.1.0')
    .option('--log-level <level>', 'log level: fatal, error, warn, info, debug, trace (logs go to stderr)', 'warn')
    .option('--log-file <file>', 'write logs to this file instead of stderr')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerConnect(program);
  registerVv(program);
  registerUsb(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  // A reader that went away (spicectl ... | head) must not crash a session mid-cleanup.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
  });
  const program = buildProgram();
  try {
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
