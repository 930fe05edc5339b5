import { readFileSync, statSync } from 'node:fs';
import { SpiceError } from './errors.js';
import { readStdin } from './stdin.js';

export interface PasswordSources {
  passwordFile?: string;
  passwordEnv?: string;
  passwordStdin?: boolean;
  /** a password embedded in the URI or a .vv file */
  inline?: string;
}


const chomp = (s: string) => s.replace(/\r?\n$/, '');

/**
 * The password, from the first source given: --password-file, --password-env NAME,
 * --password-stdin, SPICE_PASSWORD, then the URI/.vv. Never from a plain argv flag.
 */
export async function resolvePassword(src: PasswordSources, env = process.env): Promise<string | undefined> {
  if (src.passwordFile) {
    try {
      if (statSync(src.passwordFile).size > 4096) throw new SpiceError('input', `password file ${src.passwordFile} is larger than 4 KiB: is it the right file?`);
      return chomp(readFileSync(src.passwordFile, 'utf8'));
    } catch (e) {
      if (e instanceof SpiceError) throw e;
      throw new SpiceError('input', `cannot read password file ${src.passwordFile}: ${(e as Error).message}`);
    }
  }
  if (src.passwordEnv) {
    const v = env[src.passwordEnv];
    if (v === undefined) throw new SpiceError('usage', `--password-env ${src.passwordEnv}: that environment variable is not set`);
    return v;
  }
  if (src.passwordStdin) return chomp((await readStdin()).toString('utf8'));
  if (env.SPICE_PASSWORD !== undefined) return env.SPICE_PASSWORD;
  return src.inline;
}
