import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fmtBytes, fmtSeconds, fmtSummary, medianOf, ratio, summarize } from '../../src/bench/stats.js';

test('median of odd and even counts', () => {
  assert.equal(medianOf([]), null);
  assert.equal(medianOf([7]), 7);
  assert.equal(medianOf([1, 2, 10]), 2);
  assert.equal(medianOf([1, 2, 4, 10]), 3);
});

test('summarize ignores runs without a value and sorts', () => {
  const s = summarize([300, null, 100, undefined, 200, Number.NaN, 1000]);
  assert.deepEqual(s, { n: 4, min: 100, median: 250, max: 1000, mean: 400 });
  assert.deepEqual(summarize([null, null]), { n: 0, min: null, median: null, max: null, mean: null });
});

test('ratio of medians', () => {
  assert.equal(ratio(50, 100), 0.5);
  assert.equal(ratio(null, 100), null);
  assert.equal(ratio(5, 0), null);
});

test('formatting: seconds, summaries, bytes', () => {
  assert.equal(fmtSeconds(1234), '1.234');
  assert.equal(fmtSeconds(12), '0.012');
  assert.equal(fmtSeconds(null), '-');
  assert.equal(fmtSummary(summarize([100, 200, 400])), '0.100 / 0.200 / 0.400');
  assert.equal(fmtSummary(summarize([250])), '0.250');
  assert.equal(fmtSummary(summarize([])), '-');
  assert.equal(fmtBytes(812), '812 B');
  assert.equal(fmtBytes(45_210), '45.2 kB');
  assert.equal(fmtBytes(4_569_088), '4.57 MB');
  assert.equal(fmtBytes(null), '-');
});
