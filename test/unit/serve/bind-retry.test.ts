// The pure decisions about sockets that cannot be bound: pauses, which attempts are logged, and
// xinetd's wording of the error.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bindErrorText, bindRetryDelayMs, LOG_EVERY_AT_CAP, shouldLogBindRetry } from '../../../src/serve/bind-retry.js';

test('the pause doubles from the base and stops at the cap', () => {
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7, 8, 100, 5000].map((n) => bindRetryDelayMs(n, 1000, 60_000)),
    [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000, 60000],
  );
  assert.equal(bindRetryDelayMs(0, 200, 1000), 200);
  assert.equal(bindRetryDelayMs(3, 5000, 1000), 5000, 'a base above the cap is used as is');
});

test('every attempt is logged while the pause grows, then one in LOG_EVERY_AT_CAP', () => {
  const logged = Array.from({ length: 40 }, (_, i) => i + 1).filter((n) => shouldLogBindRetry(n, 1000, 60_000));
  // 1..6 grow (1 s .. 32 s); 7 is the first at the cap.
  assert.deepEqual(logged, [1, 2, 3, 4, 5, 6, 7, 7 + LOG_EVERY_AT_CAP, 7 + 2 * LOG_EVERY_AT_CAP, 7 + 3 * LOG_EVERY_AT_CAP]);
});

test('bind errors are worded as xinetd words them', () => {
  const err = (code: string, message = `bind ${code}`): NodeJS.ErrnoException => Object.assign(new Error(message), { code });
  assert.equal(bindErrorText(err('EADDRINUSE')), 'Address already in use (errno = 98)');
  assert.equal(bindErrorText(err('EACCES')), 'Permission denied (errno = 13)');
  assert.equal(bindErrorText(err('EADDRNOTAVAIL')), 'Cannot assign requested address (errno = 99)');
  assert.equal(bindErrorText(err('ENOTFOUND', 'getaddrinfo ENOTFOUND nowhere.invalid')), 'getaddrinfo ENOTFOUND nowhere.invalid');
});
