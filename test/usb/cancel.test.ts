// Cancel: the per-transfer cancellation handle the usbredir host gives devices.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { Cancel, type CancelSignal } from '../../src/usb/cancel.js';

describe('Cancel', () => {
  it('calls each listener once on abort, in order, and none added later', () => {
    const c = new Cancel();
    const calls: string[] = [];
    c.signal.addEventListener('abort', () => calls.push('a'), { once: true });
    c.signal.addEventListener('abort', () => calls.push('b'));
    assert.equal(c.signal.aborted, false);
    c.abort();
    c.abort();
    assert.equal(c.signal.aborted, true);
    c.signal.addEventListener('abort', () => calls.push('late'));
    assert.deepEqual(calls, ['a', 'b']);
  });

  it('forgets a removed listener', () => {
    const c = new Cancel();
    let called = 0;
    const l = () => called++;
    c.signal.addEventListener('abort', l);
    c.signal.removeEventListener('abort', l);
    c.signal.removeEventListener('abort', l);
    c.abort();
    assert.equal(called, 0);
  });

  it('accepts a real AbortSignal where a CancelSignal is expected', () => {
    const ac = new AbortController();
    const s: CancelSignal = ac.signal;
    let called = 0;
    s.addEventListener('abort', () => called++, { once: true });
    ac.abort();
    assert.equal(s.aborted, true);
    assert.equal(called, 1);
  });
});
