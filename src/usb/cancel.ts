// Cancelling one USB transfer. The devices need only a flag and an 'abort' callback, the subset
// of AbortSignal that CancelSignal names (so a real AbortSignal still fits). The usbredir host
// makes one per guest request, ~150 in a recognition: an AbortController there (an EventTarget,
// its signal made on first use) was the largest item in a profile of the request path, ~8 % of
// its CPU time, and a good share of its garbage.

/** What a device may do with a transfer's cancellation: look, or be told once. */
export interface CancelSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** A cancellation handle and its own signal (like an AbortController and its signal in one). */
export class Cancel implements CancelSignal {
  aborted = false;
  private listeners: (() => void)[] | null = null;

  get signal(): CancelSignal {
    return this;
  }

  /** Sets `aborted` and calls every listener once; later calls do nothing. */
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    const listeners = this.listeners;
    this.listeners = null;
    if (!listeners) return;
    for (const l of listeners) {
      try {
        l();
      } catch (e) {
        // As an EventTarget does: a listener's error surfaces on its own, the others still run.
        queueMicrotask(() => {
          throw e;
        });
      }
    }
  }

  /** Listeners are called at most once (as with { once: true }); none after the abort. */
  addEventListener(type: 'abort', listener: () => void): void {
    if (type !== 'abort' || this.aborted) return;
    (this.listeners ??= []).push(listener);
  }

  removeEventListener(type: 'abort', listener: () => void): void {
    const ls = this.listeners;
    if (type !== 'abort' || !ls) return;
    const i = ls.indexOf(listener);
    if (i >= 0) ls.splice(i, 1);
  }
}
