// Whether a command that stays connected shows the live view: a tiny module of its own, so a
// run that decides "no" (CI, a pipe) loads none of the view's code.

/** Ink's own rule (is-in-ci): CI or CONTINUOUS_INTEGRATION set to anything but "0" or "false". */
export function inCi(env: NodeJS.ProcessEnv = process.env): boolean {
  const on = (k: string) => k in env && env[k] !== '0' && env[k] !== 'false';
  return on('CI') || on('CONTINUOUS_INTEGRATION');
}

/** The live view by default: stdout is a terminal and this is not CI. */
export function interactive(out: NodeJS.WriteStream = process.stdout, env: NodeJS.ProcessEnv = process.env): boolean {
  return out.isTTY === true && !inCi(env);
}
