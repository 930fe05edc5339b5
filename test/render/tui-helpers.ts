// Test helpers for the TUI tests (not a test file itself).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

/** Polls `f` until it returns something truthy; fails after `ms`. */
export async function until<T>(what: string, f: () => T, ms = 5000): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v) return v as NonNullable<T>;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Follows the local static imports of `entries` (type-only imports vanish at run time) and
 * asserts that none of the files reached imports ink or react. Returns the files visited.
 */
export function assertNoInkImports(entries: URL[]): Set<string> {
  const seen = new Set<string>();
  const visit = (url: URL) => {
    if (seen.has(url.href)) return;
    seen.add(url.href);
    const src = readFileSync(url, 'utf8');
    for (const m of src.matchAll(/^\s*import\s+(type\s+)?[^'"]*['"]([^'"]+)['"]/gm)) {
      const spec = m[2]!;
      if (m[1]) continue;
      assert.ok(!/^(ink|react)(\/|$)/.test(spec), `${url.pathname} imports ${spec}`);
      if (spec.startsWith('.')) visit(new URL(spec.replace(/\.js$/, '.ts'), url));
    }
  };
  for (const e of entries) visit(e);
  return seen;
}
