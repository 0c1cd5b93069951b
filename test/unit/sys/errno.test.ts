// The words for error codes (src/sys/errno.ts): glibc's strerror texts checked against the C
// library itself (python3's os.strerror calls strerror), libuv's names, the file reasons.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { constants } from 'node:os';
import { describeErrno, errnoOf, fsReason, strerror } from '../../../src/sys/errno.js';

const python = spawnSync('python3', ['-c', 'print(1)']).status === 0;

test(
  "strerror gives the C library's own text for every errno code Node knows",
  { skip: python ? false : 'python3 is not installed (it asks the C library)' },
  () => {
    const codes = Object.keys(constants.errno);
    const r = spawnSync(
      'python3',
      ['-c', 'import os, json, sys; print(json.dumps([os.strerror(int(n)) for n in sys.argv[1:]]))', ...codes.map((c) => String(errnoOf(c)))],
      { encoding: 'utf8' },
    );
    const glibc = JSON.parse(r.stdout) as string[];
    const differ = codes.filter((c, i) => strerror(c) !== glibc[i]).map((c, i) => `${c}: ${strerror(c)} != ${glibc[codes.indexOf(c)]} (${i})`);
    assert.deepEqual(differ, []);
    assert.ok(codes.length > 70);
  },
);

test('names, numbers and the short reasons for files', () => {
  assert.equal(errnoOf('EADDRINUSE'), 98);
  assert.equal(strerror('EADDRINUSE'), 'Address already in use');
  assert.equal(strerror('ENOTFOUND'), undefined); // a resolver's code, no errno
  assert.deepEqual(describeErrno(2), ['ENOENT', 'no such file or directory']);
  assert.deepEqual(describeErrno(100000), ['errno 100000', 'unknown error']);
  const err = (code: string): NodeJS.ErrnoException => Object.assign(new Error(`x ${code}`), { code });
  assert.equal(fsReason(err('ENOENT')), 'no such file or directory');
  assert.equal(fsReason(err('EACCES')), 'permission denied');
  assert.equal(fsReason(err('EISDIR')), 'it is a directory');
  assert.equal(fsReason(err('ELOOP')), 'too many symbolic links');
  assert.equal(fsReason(err('EWHATEVER')), 'x EWHATEVER');
  assert.equal(fsReason('plain'), 'plain');
});
