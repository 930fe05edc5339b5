// Every failure a user can meet is a SpiceError: a stable code, one line saying what to do,
// and the process exit code it maps to (the table in README.md and man/spicectl.1).

export const ExitCode = {
  ok: 0,
  usage: 2,
  unreachable: 3,
  auth: 4,
  tls: 5,
  protocol: 6,
  timeout: 7,
  disconnected: 8,
  /** A local input (file, device, rule) is unusable; not a server problem. */
  input: 9,
} as const;

export type ErrorCode = keyof typeof ExitCode;

export class SpiceError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SpiceError';
    this.code = code;
  }
  get exitCode(): number {
    return ExitCode[this.code];
  }
}

/** A malformed or unexpected message from a peer (server, guest, device image). */
export class ProtocolError extends SpiceError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('protocol', message, options);
    this.name = 'ProtocolError';
  }
}

export function isSpiceError(e: unknown): e is SpiceError {
  return e instanceof SpiceError;
}
