// Correctness at scale (#16), at a size that keeps the suite fast: 500 program services, one
// port each, five of them with a value that cannot be read. `--check` reports exactly those five,
// each at the file:line:col of its value (found in the generated text, not written down here);
// the daemon listens on the 495 others and on none of the five; every listening socket is handed
// to the spawn helper, which accepts on the first, a middle and the last one; a SIGHUP with
// nothing changed keeps every socket (same inodes). Then 300 services, each answering with its
// own name, a third of them dropped by a reload: each of the others is still answered by its own
// server (the helper's table of listeners and its epoll set are rearranged by each drop), and
// the daemon holds no socket of a dropped port. No timing is asserted.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { programService, runCli, startDaemon, type ServiceDef } from '../../helpers/daemon.js';
import { freePort, tcpRequest, waitFor } from '../../helpers/net.js';
import { childrenOf, listeningInodesByPort } from '../../helpers/proc.js';

const N = 500;
const BROKEN = new Set([7, 123, 250, 377, 499]);

async function distinctPorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

function services(ports: readonly number[]): ServiceDef[] {
  return ports.map((port, i) =>
    programService(`s${i}`, port, '/bin/cat', { bind: '127.0.0.1', only_from: '127.0.0.1', ...(BROKEN.has(i) ? { instances: `many${i}` } : {}) }),
  );
}

/** Where each broken service's value sits in the configuration text: "line:col". */
function brokenValuePlaces(text: string): string[] {
  const lines = text.split('\n');
  return [...BROKEN].map((i) => {
    const value = `many${i}`;
    const line = lines.findIndex((l) => l.endsWith(`instances = ${value}`));
    assert.ok(line >= 0, value);
    return `${line + 1}:${(lines[line] ?? '').indexOf(value) + 1}`;
  });
}

test('500 services: diagnostics at their lines, every good port listening and served, all kept on SIGHUP', async (t) => {
  const ports = await distinctPorts(N);
  const defs = services(ports);
  const good = ports.filter((_, i) => !BROKEN.has(i));
  const d = await startDaemon(t, { services: defs, readyTimeoutMs: 60_000 });
  // The daemon's sockets only: another test process may listen on a port number of a disabled service.
  const daemonAndHelper = (): number[] => [d.pid, ...childrenOf(d.pid)];

  // --check of the very file the daemon reads.
  const check = await runCli(['--check', '-f', d.config], { timeoutMs: 60_000 });
  const report = check.stdout + check.stderr;
  const found = [...report.matchAll(/^[^\n]*xinetd\.conf:(\d+):(\d+): error: bad value for 'instances'/gm)].map((m) => `${m[1]}:${m[2]}`);
  assert.deepEqual(found, brokenValuePlaces(readFileSync(d.config, 'utf8')), report);
  assert.equal(check.code, 1);
  assert.match(report, new RegExp(`${N} services \\(${N - BROKEN.size} enabled\\), ${BROKEN.size} errors, 0 warnings`));

  const inodes = await waitFor(
    () => {
      const now = listeningInodesByPort(ports, daemonAndHelper());
      return good.every((p) => now.get(p)?.size === 1) ? now : undefined;
    },
    60_000,
    'every good port to listen',
  );
  for (const [i, port] of ports.entries()) if (BROKEN.has(i)) assert.equal(inodes.get(port)?.size, 0, `s${i} is disabled`);

  // The helper accepts on sockets handed over early, in the middle and last.
  for (const port of [good[0], good[Math.floor(good.length / 2)], good[good.length - 1]]) {
    assert.ok(port !== undefined);
    const reply = await tcpRequest({ port, send: `hello ${port}\n`, timeoutMs: 10_000 });
    assert.equal(reply.data.toString(), `hello ${port}\n`);
  }

  d.signal('SIGHUP');
  await d.waitForDaemonLog(/Reconfigured: new=0 old=495 dropped=0/, 60_000);
  const after = listeningInodesByPort(ports, daemonAndHelper());
  for (const port of good) assert.deepEqual(after.get(port), inodes.get(port), `port ${port} kept its socket`);
  const last = good[good.length - 1];
  assert.ok(last !== undefined);
  assert.equal((await tcpRequest({ port: last, send: 'again\n', timeoutMs: 10_000 })).data.toString(), 'again\n');
});

test('300 services, a third dropped by a reload: every other one is answered by its own server, no socket of a dropped one is left', async (t) => {
  const ports = await distinctPorts(300);
  const defs = ports.map((port, i) => programService(`e${i}`, port, '/bin/echo', { bind: '127.0.0.1', server_args: `e${i}` }));
  const d = await startDaemon(t, { services: defs, readyTimeoutMs: 60_000 });
  const answer = async (i: number): Promise<string> => (await tcpRequest({ port: ports[i] ?? 0, timeoutMs: 10_000 })).data.toString();
  const all = ports.map((_, i) => i);
  const kept = all.filter((i) => i % 3 !== 1);
  const dropped = all.filter((i) => i % 3 === 1);
  // Served by the helper once it has every socket: the last one handed over answers.
  await waitFor(async () => ((await answer(ports.length - 1)) === `e${ports.length - 1}\n` ? true : undefined), 30_000, 'the last service to answer');

  d.rewrite(kept.map((i) => defs[i]).filter((s): s is ServiceDef => s !== undefined));
  d.signal('SIGHUP');
  await d.waitForDaemonLog(new RegExp(`Reconfigured: new=0 old=${kept.length} dropped=${dropped.length}`), 60_000);
  for (const i of kept) assert.equal(await answer(i), `e${i}\n`, `e${i} answered by its own server`);
  // The daemon's and the helper's sockets only: another test process may take a freed port.
  const sockets = listeningInodesByPort(ports, [d.pid, ...childrenOf(d.pid)]);
  for (const i of dropped) assert.equal(sockets.get(ports[i] ?? 0)?.size, 0, `e${i} dropped: its port is closed`);
});
