// Correctness under load: the real daemon, hammered by many concurrent clients on loopback,
// must keep its limits and its books exactly.
//
// - Spawned servers: 2000 connections from 32 concurrent clients to a service with
//   `instances = 8`. While they run, the servers alive are counted from /proc (the children of
//   the daemon and of its spawn helper) every few milliseconds: never more than 8. Every
//   connection either got the server's whole reply or was refused; START and EXIT lines match
//   the replies, and FAIL lines (written or counted as suppressed) match the refusals.
// - The internal stream echo (counted by `instances` like xinetd's forked echo): the same books.
// - The internal UDP echo: 2000 datagrams, 16 in flight at a time; every one is answered with
//   its own bytes and logged (no datagram lost, unlike xinetd, which drops what arrives while
//   it is busy).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as dgram from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { internalService, programService, startDaemon, type RunningDaemon } from '../../helpers/daemon.js';
import { freePort, waitFor, withTimeout } from '../../helpers/net.js';

const TOTAL = 2000;
const CONCURRENCY = 32;
const INSTANCES = 8;
/** Generous: the whole suite runs on two shared cores. */
const RUN_TIMEOUT_MS = 40_000;

/** Accounting is checked without cps and per_source getting in the way. */
const UNLIMITED_RATES = { cps: '1000000 1', per_source: 'UNLIMITED' };

// ---- a closed-loop client -----------------------------------------------------------------

interface Tally {
  /** Connections that got the complete, expected reply. */
  full: number;
  /** Connections closed (or reset) by the daemon before a single byte: refused. */
  refused: number;
  /** Anything else (partial reply, error after some bytes, timeout, refused connect): described. */
  bad: string[];
}

interface HammerOptions {
  port: number;
  total: number;
  concurrency: number;
  /** Sent at once, followed by a half-close; nothing is sent when absent. */
  request?: Buffer;
  isComplete(reply: Buffer): boolean;
  perConnectionTimeoutMs?: number;
}

function oneConnection(opts: HammerOptions, tally: Tally): Promise<void> {
  return new Promise<void>((resolve) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    let error: string | null = null;
    const socket = net.connect({ host: '127.0.0.1', port: opts.port });
    const timer = setTimeout(() => {
      error = 'timeout';
      socket.destroy();
    }, opts.perConnectionTimeoutMs ?? 10_000);
    socket.on('connect', () => {
      if (opts.request !== undefined) socket.end(opts.request);
    });
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      bytes += d.length;
    });
    socket.on('end', () => socket.destroy());
    socket.on('error', (err: NodeJS.ErrnoException) => {
      error ??= err.code ?? err.message;
    });
    socket.on('close', () => {
      clearTimeout(timer);
      const reply = Buffer.concat(chunks, bytes);
      if (bytes === 0 && (error === null || error === 'ECONNRESET' || error === 'EPIPE')) tally.refused++;
      else if (error === null && opts.isComplete(reply)) tally.full++;
      else if (tally.bad.length < 20)
        tally.bad.push(`${error ?? 'wrong reply'} after ${bytes} bytes: ${JSON.stringify(reply.subarray(0, 60).toString('latin1'))}`);
      else tally.bad.push('...');
      resolve();
    });
  });
}

/** `total` connections, `concurrency` at a time, each started as soon as a slot is free. */
async function hammer(opts: HammerOptions): Promise<Tally> {
  const tally: Tally = { full: 0, refused: 0, bad: [] };
  let started = 0;
  const slot = async (): Promise<void> => {
    while (started < opts.total) {
      started++;
      await oneConnection(opts, tally);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, slot));
  return tally;
}

// ---- the daemon's books --------------------------------------------------------------------

function count(text: string, re: RegExp): number {
  return text.split('\n').filter((l) => re.test(l)).length;
}

/** FAIL lines written plus those counted in "N similar FAIL lines of service ID suppressed". */
function failures(d: RunningDaemon, id: string, reason: string): number {
  const written = count(d.serviceLog(), new RegExp(`: FAIL: ${id} ${reason} from=`));
  let suppressed = 0;
  const re = new RegExp(`(\\d+) similar FAIL lines? of service ${id} suppressed`, 'g');
  for (const m of d.daemonLog().matchAll(re)) suppressed += Number(m[1]);
  return written + suppressed;
}

// ---- counting running servers from /proc ---------------------------------------------------

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** Processes named `comm` among the children and grandchildren of `root` (zombies included). */
function runningNamed(root: number, comm: string): number {
  let n = 0;
  for (const child of childrenOf(root)) {
    if (commOf(child) === comm) n++;
    for (const grandchild of childrenOf(child)) if (commOf(grandchild) === comm) n++;
  }
  return n;
}

/** Samples runningNamed() every `everyMs` until stopped; reports the maximum and how often it looked. */
function sampleRunning(root: number, comm: string, everyMs = 2): { stop(): { max: number; samples: number; busy: number } } {
  let max = 0;
  let samples = 0;
  let busy = 0;
  const timer = setInterval(() => {
    const n = runningNamed(root, comm);
    samples++;
    if (n > 0) busy++;
    if (n > max) max = n;
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      return { max, samples, busy };
    },
  };
}

function bashPath(): string | null {
  const r = spawnSync('sh', ['-c', 'command -v bash'], { encoding: 'utf8' });
  const p = r.stdout.trim();
  return r.status === 0 && p.startsWith('/') ? p : null;
}

const procChildrenWorks = ((): boolean => {
  try {
    readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, 'utf8');
    return true;
  } catch {
    return false;
  }
})();

// ---- the tests -----------------------------------------------------------------------------

const PAD = 2000;
const SERVER_REPLY = /^BEGIN \d+\nx{2000}\nEND\n$/;

/** A connected client that sends nothing and stays open until destroyed. */
function openSession(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1' }, () => resolve(s));
    s.once('error', reject);
  });
}

describe('correctness under load', () => {
  const bash = bashPath();
  const skipSpawn = bash === null ? 'bash is needed for the test server' : !procChildrenWorks ? '/proc/PID/task/PID/children is not available' : false;

  test(`spawned servers: ${TOTAL} connections at c=${CONCURRENCY}, instances = ${INSTANCES}`, { skip: skipSpawn, timeout: 60_000 }, async (t) => {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'tsinetd-load-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    // The server: waits 20 ms for input that never comes (so that servers overlap), then answers.
    // Its process name (comm) is the script's name, which is how /proc sampling finds it.
    const server = join(dir, 'loadsrv');
    writeFileSync(server, `#!${bash}\nread -t 0.02 -r _\nprintf -v pad '%*s' ${PAD} ''\nprintf 'BEGIN %s\\n%s\\nEND\\n' "$$" "\${pad// /x}"\n`, {
      mode: 0o755,
    });
    const d = await startDaemon(t, { services: [programService('loadsrv', port, server, { instances: String(INSTANCES), ...UNLIMITED_RATES })] });

    const sampler = sampleRunning(d.pid, 'loadsrv');
    let tally: Tally;
    let seen: { max: number; samples: number; busy: number };
    try {
      tally = await withTimeout(
        hammer({ port, total: TOTAL, concurrency: CONCURRENCY, isComplete: (r) => SERVER_REPLY.test(r.toString('latin1')) }),
        RUN_TIMEOUT_MS,
        'the load run',
      );
    } finally {
      seen = sampler.stop();
    }
    assert.deepEqual(tally.bad, [], 'every connection is either served completely or refused');
    assert.equal(tally.full + tally.refused, TOTAL);
    assert.ok(tally.full >= 50, `servers ran (${tally.full} replies)`);
    assert.ok(tally.refused > 0, 'the limit was reached');
    assert.ok(seen.samples >= 20 && seen.busy > 0, `/proc was sampled while servers ran (${JSON.stringify(seen)})`);
    assert.ok(seen.max >= 2, `servers overlapped (${JSON.stringify(seen)})`);
    assert.ok(seen.max <= INSTANCES, `never more than ${INSTANCES} servers at once (seen ${seen.max})`);

    // Every server started was logged and its end reported; every refusal was logged.
    await waitFor(() => (count(d.serviceLog(), /: EXIT: loadsrv /) >= tally.full ? true : undefined), 10_000, 'the EXIT lines');
    await d.stop();
    assert.equal(count(d.serviceLog(), /: START: loadsrv pid=[1-9]\d* from=/), tally.full);
    assert.equal(count(d.serviceLog(), /: EXIT: loadsrv status=0 pid=[1-9]\d* /), tally.full);
    assert.equal(failures(d, 'loadsrv', 'service_limit'), tally.refused);
  });

  test(`internal stream echo: ${TOTAL} connections at c=${CONCURRENCY}, instances = 4`, { timeout: 60_000 }, async (t) => {
    const port = await freePort();
    const d = await startDaemon(t, { services: [internalService('echo', port, 'stream', { instances: '4', ...UNLIMITED_RATES })] });
    const request = Buffer.from('load-correctness '.repeat(120) + '\n');
    // In-process echo sessions can be too quick to overlap under load, so reach the limit on
    // purpose first: 4 idle sessions held open, then a 5th client must be refused.
    const held = await Promise.all([0, 1, 2, 3].map(() => openSession(port)));
    await waitFor(() => (count(d.serviceLog(), /: START: echo-stream /) >= 4 ? true : undefined), 5_000, 'the 4 held sessions');
    const fifth = await hammer({ port, total: 1, concurrency: 1, request, isComplete: (r) => r.equals(request) });
    for (const h of held) h.destroy();
    assert.equal(fifth.refused, 1, 'the limit was reached: a 5th client is refused while 4 sessions run');
    await waitFor(() => (count(d.serviceLog(), /: EXIT: echo-stream /) >= 4 ? true : undefined), 5_000, 'the held sessions to end');
    const tally = await withTimeout(
      hammer({ port, total: TOTAL, concurrency: CONCURRENCY, request, isComplete: (r) => r.equals(request) }),
      RUN_TIMEOUT_MS,
      'the load run',
    );
    assert.deepEqual(tally.bad, [], 'every connection is either echoed completely or refused');
    assert.equal(tally.full + tally.refused, TOTAL);
    assert.ok(tally.full >= 50, `echo sessions ran (${tally.full})`);
    await waitFor(() => (count(d.serviceLog(), /: EXIT: echo-stream /) >= tally.full + 4 ? true : undefined), 10_000, 'the EXIT lines');
    await d.stop();
    assert.equal(count(d.serviceLog(), /: START: echo-stream pid=0 from=/), tally.full + 4);
    assert.equal(count(d.serviceLog(), /: EXIT: echo-stream status=0 pid=0 /), tally.full + 4);
    assert.equal(failures(d, 'echo-stream', 'service_limit'), tally.refused + 1);
  });

  test(`internal UDP echo: ${TOTAL} datagrams, 16 in flight, none lost`, { timeout: 60_000 }, async (t) => {
    const port = await freePort();
    const d = await startDaemon(t, { services: [internalService('echo', port, 'dgram', UNLIMITED_RATES)] });
    const socket = dgram.createSocket('udp4');
    t.after(() => socket.close());
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, '127.0.0.1', () => resolve());
    });
    const payload = (seq: number): Buffer => Buffer.from(`datagram ${seq} `.padEnd(200, '.'));
    const answered = new Set<number>();
    let wrong = 0;
    let next = 0;
    const WINDOW = 16;
    const done = new Promise<void>((resolve) => {
      socket.on('message', (msg) => {
        const seq = Number(/^datagram (\d+) /.exec(msg.toString('latin1'))?.[1] ?? NaN);
        if (!Number.isInteger(seq) || !msg.equals(payload(seq)) || answered.has(seq)) wrong++;
        else answered.add(seq);
        if (next < TOTAL) socket.send(payload(next++), port, '127.0.0.1');
        if (answered.size + wrong >= TOTAL) resolve();
      });
    });
    while (next < WINDOW) socket.send(payload(next++), port, '127.0.0.1');
    // No retransmission: a lost datagram would stall its slot and the run would time out.
    await withTimeout(done, 20_000, `all replies (${answered.size} of ${TOTAL} so far)`).catch((err: unknown) => {
      assert.fail(`${err instanceof Error ? err.message : String(err)}; answered ${answered.size}, wrong ${wrong}`);
    });
    assert.equal(wrong, 0);
    assert.equal(answered.size, TOTAL);
    await d.stop();
    assert.equal(count(d.serviceLog(), /: START: echo-dgram pid=0 from=127\.0\.0\.1$|: START: echo-dgram pid=0 from=::ffff:127\.0\.0\.1$/), TOTAL);
  });
});
