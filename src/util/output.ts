/** Stdout carries results only: one line of text, or one JSON document. */
export function printLine(s: string): void {
  process.stdout.write(`${s}\n`);
}

export function printJson(v: unknown): void {
  process.stdout.write(`${JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? x.toString() : x), 2)}\n`);
}

export function printError(s: string): void {
  process.stderr.write(`spicectl: ${s}\n`);
}
