// src/spawn/native/ordered-send.ts with a real child process and real descriptors: messages with
// and without a descriptor arrive in the order they were sent, only one descriptor is handed to
// Node at a time (the rest wait in the sender's own queue, not in Node's), and when the child
// goes away every message still waiting is failed once.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import { once } from 'node:events';
import { OrderedSender } from '../../../../src/spawn/native/ordered-send.js';
import { SEND_OPTIONS } from '../../../../src/sys/uv-handles.js';
import { descriptors, havePrlimit, limitLeaving, setSoftFdLimit, softFdLimit } from '../../../helpers/proc.js';
import { waitFor } from '../../../helpers/net.js';

/** A Node child that notes each message (its number, whether a descriptor came) and reports them on `report`. */
function recorder(t: TestContext): ChildProcess {
  const child = spawn(
    process.execPath,
    [
      '-e',
      `const seen = [];
       process.on('message', (m, h) => {
         if (m.cmd === 'report') { process.send(seen); return; }
         if (m.cmd === 'exit') process.exit(0);
         seen.push([m.n, h !== undefined]);
         if (h !== undefined) h.close();
       });`,
    ],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' },
  );
  t.after(() => {
    if (child.exitCode === null) child.kill();
  });
  return child;
}

async function listeningServer(t: TestContext): Promise<net.Server> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  return server;
}

test('descriptors and plain messages arrive in the order sent, one descriptor handed to Node at a time', async (t) => {
  const child = recorder(t);
  const server = await listeningServer(t);
  const sender = new OrderedSender(child);
  const N = 120;
  const written: Array<Promise<Error | null>> = [];
  for (let n = 0; n < N; n++) {
    written.push(new Promise((resolve) => sender.send({ n }, n % 3 === 0 ? server : undefined, undefined, resolve)));
  }
  // Message 0 carries a descriptor: everything after it waits here until the child acknowledges it.
  assert.equal(sender.waiting, N - 1);
  assert.deepEqual(await Promise.all(written), Array<null>(N).fill(null));
  assert.equal(sender.waiting, 0);
  const report = once(child, 'message');
  sender.send({ cmd: 'report' }, undefined, undefined, () => {});
  const [seen] = (await report) as [Array<[number, boolean]>];
  assert.deepEqual(
    seen,
    Array.from({ length: N }, (_, n) => [n, n % 3 === 0]),
  );
});

test('messages still waiting when the child goes away are failed, each once', async (t) => {
  const child = recorder(t);
  const server = await listeningServer(t);
  const sender = new OrderedSender(child);
  const calls = new Map<number, Array<Error | null>>();
  const note = (n: number) => (err: Error | null) => calls.set(n, [...(calls.get(n) ?? []), err]);
  sender.send({ cmd: 'exit' }, undefined, undefined, note(-1));
  const N = 20;
  for (let n = 0; n < N; n++) sender.send({ n }, server, undefined, note(n));
  // 'close' comes once the channel is closed too.
  await once(child, 'close');
  assert.equal(sender.waiting, 0);
  assert.equal(calls.get(-1)?.length, 1);
  for (let n = 0; n < N; n++) assert.equal(calls.get(n)?.length, 1, `message ${n} answered once`);
  // At most the first descriptor reached the channel before the child exited; the rest failed.
  const failed = [...calls.entries()].filter(([n, errs]) => n >= 0 && errs[0] !== null).length;
  assert.ok(failed >= N - 1, `${failed} of ${N} failed`);
});

test(
  'a descriptor the child cannot receive (NACK: at its descriptor limit) ends its flight too: later messages still go',
  { skip: !havePrlimit() && 'prlimit (util-linux) is not installed', timeout: 20_000 },
  async (t) => {
    const child = recorder(t);
    const server = await listeningServer(t);
    const sender = new OrderedSender(child);
    // Wait until the child's IPC channel is up, then leave it no free descriptor number.
    const ready = once(child, 'message');
    sender.send({ cmd: 'report' }, undefined, undefined, () => {});
    await ready;
    const pid = child.pid ?? 0;
    const soft = softFdLimit(pid);
    setSoftFdLimit(pid, limitLeaving(descriptors(pid), 0));
    const written: Array<Promise<Error | null>> = [];
    for (let n = 0; n < 6; n++) {
      written.push(new Promise((resolve) => sender.send({ n }, n % 2 === 0 ? server : undefined, SEND_OPTIONS, resolve)));
    }
    // Every message is written: none waits behind a descriptor that was refused.
    assert.deepEqual(await Promise.all(written), Array<null>(6).fill(null));
    await waitFor(() => (sender.waiting === 0 ? true : undefined), 5000, 'the queue to empty');
    setSoftFdLimit(pid, soft);
    const report = once(child, 'message');
    sender.send({ cmd: 'report' }, undefined, undefined, () => {});
    const [seen] = (await report) as [Array<[number, boolean]>];
    // The plain messages after each refused descriptor arrived, in order (a Node child drops a
    // message whose descriptor it could not take; the helper answers such a request with an error).
    assert.deepEqual(seen, [
      [1, false],
      [3, false],
      [5, false],
    ]);
  },
);
