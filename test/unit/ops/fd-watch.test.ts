// When the descriptor watch speaks: once when the daemon runs out, once when it has room again.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fdTransition, fdTransitionText, sampleFds, type FdSample } from '../../../src/ops/fd-watch.js';

const s = (open: number | null, limit: number | null, out = false): FdSample => ({ open, limit, out });

test('out: when a descriptor cannot be opened, or the count reaches the limit', () => {
  assert.equal(fdTransition(false, s(10, 1024))?.kind, undefined);
  assert.equal(fdTransition(false, s(null, 30, true))?.kind, 'exhausted');
  assert.equal(fdTransition(false, s(30, 30))?.kind, 'exhausted');
});

test('said once: nothing more while out, nor while just below the limit', () => {
  assert.equal(fdTransition(true, s(null, 30, true)), null);
  assert.equal(fdTransition(true, s(29, 30)), null, '29 of 30 is not room yet');
  assert.equal(fdTransition(true, s(26, 30))?.kind, 'recovered');
  assert.equal(fdTransition(false, s(29, 30)), null);
});

test('the lines say what happened, with the count when known', () => {
  assert.equal(
    fdTransitionText({ kind: 'exhausted', sample: s(null, 30, true) }),
    'out of file descriptors (limit 30): new connections of the services the daemon accepts are closed at once',
  );
  assert.equal(fdTransitionText({ kind: 'recovered', sample: s(26, 30) }), 'file descriptors available again (26 open, limit 30)');
});

test('a real sample of this process: not out, and no count taken while it was not out either', () => {
  const r = sampleFds();
  assert.deepEqual(r, { open: null, limit: null, out: false });
});

test('a real sample after being out: the count, below the limit, to decide whether descriptors are free again', () => {
  const r = sampleFds(true);
  assert.equal(r.out, false);
  assert.ok(r.open !== null && r.open > 2);
  assert.ok(r.limit === null || r.open < r.limit);
  assert.equal(fdTransition(true, r)?.kind, 'recovered');
});
