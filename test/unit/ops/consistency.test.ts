// consistency.ts: each invariant of the -cc / SIGABRT check, the two-sample rule, and the
// xinetd wording of the report.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AdmissionSnapshot } from '../../../src/admission/admission.js';
import { checkConsistency, persistent, reportConsistency, runConsistencyCheck, type ConsistencyInput } from '../../../src/ops/consistency.js';
import type { ServingState } from '../../../src/serve/server-types.js';
import { newService } from '../../../src/service-defaults.js';
import type { Service } from '../../../src/table.js';

function service(id: string, extra: Partial<Service> = {}): Service {
  return { ...newService(id, 'xinetd', { file: 'x.conf', line: 1 }), server: '/bin/true', ...extra };
}

function serving(extra: Partial<ServingState> = {}): ServingState {
  return { listeners: [], servers: [], inProcess: new Map(), startsInFlight: 0, ...extra };
}

function admission(running: Record<string, number>, total?: number): AdmissionSnapshot {
  const sum = Object.values(running).reduce((a, b) => a + b, 0);
  return { running, runningTotal: total ?? sum, off: {}, denied: {} };
}

function input(extra: Partial<ConsistencyInput>): ConsistencyInput {
  return { served: [], serving: serving(), admission: admission({}), processLimit: null, alive: () => true, ...extra };
}

const messages = (i: ConsistencyInput): string[] => checkConsistency(i).map((p) => p.message);

describe('invariants', () => {
  test('a consistent state: no problem', () => {
    const a = service('a');
    const i = input({
      served: [a],
      serving: serving({ listeners: [{ id: 'a', state: 'active', hasSocket: true }], servers: [{ pid: 10, id: 'a' }] }),
      admission: admission({ a: 1 }),
    });
    assert.deepEqual(checkConsistency(i), []);
  });

  test('sockets: orphan, duplicate, closed while listening, open while switched off, never opened', () => {
    const i = input({
      served: [service('a'), service('b'), service('c'), service('d')],
      serving: serving({
        listeners: [
          { id: 'gone', state: 'active', hasSocket: true },
          { id: 'a', state: 'active', hasSocket: true },
          { id: 'a', state: 'active', hasSocket: true },
          { id: 'b', state: 'active', hasSocket: false },
          { id: 'c', state: 'suspended', hasSocket: true },
          { id: 'd', state: 'new', hasSocket: false },
        ],
      }),
    });
    assert.deepEqual(messages(i), [
      'a socket is open for service gone, which is not served',
      'Active service b: listening, but its socket is closed',
      'service c is switched off, but its socket is open',
      'service d not started (socket state new)',
      'service a has 2 sockets',
    ]);
  });

  test('one socket per address family is not a duplicate; the same socket twice is', () => {
    const sock = (socket: string) => ({ id: 'a', socket, state: 'active' as const, hasSocket: true });
    const split = input({ served: [service('a')], serving: serving({ listeners: [sock('[0.0.0.0]:7/4'), sock('[::]:7 v6only/6')] }) });
    assert.deepEqual(checkConsistency(split), []);
    const twice = input({ served: [service('a')], serving: serving({ listeners: [sock('[::]:7 v6only/6'), sock('[::]:7 v6only/6')] }) });
    assert.deepEqual(messages(twice), ['service a has 2 sockets']);
  });

  test('a suspended service without socket is consistent (cps switched it off)', () => {
    const i = input({ served: [service('a')], serving: serving({ listeners: [{ id: 'a', state: 'suspended', hasSocket: false }] }) });
    assert.deepEqual(checkConsistency(i), []);
  });

  test('servers: a counted server that no longer exists', () => {
    const i = input({
      served: [service('a')],
      serving: serving({
        servers: [
          { pid: 10, id: 'a' },
          { pid: 11, id: 'a' },
        ],
      }),
      admission: admission({ a: 2 }),
      alive: (pid) => pid !== 11,
    });
    assert.deepEqual(messages(i), ['service a: server 11 is counted as running but does not exist']);
  });

  test('accounting: known servers not counted by admission, totals, instances, -limit', () => {
    const echo = service('echo', { type: ['INTERNAL'], name: 'echo', server: null });
    const daytime = service('daytime', { type: ['INTERNAL'], name: 'daytime', server: null });
    const i = input({
      served: [service('a', { instances: 1 }), echo, daytime],
      serving: serving({
        servers: [
          { pid: 10, id: 'a' },
          { pid: 11, id: 'a' },
        ],
        inProcess: new Map([
          ['echo', 1],
          ['daytime', 3],
        ]),
      }),
      admission: admission({ a: 2 }, 3),
      processLimit: 2,
    });
    assert.deepEqual(messages(i), [
      'total running servers (2) != number of running servers (3)',
      '3 running servers exceed the process limit (-limit 2)',
      'service echo: actual running servers = 1, known running servers = 0',
      'service a: 2 running servers exceed instances = 1',
    ]);
  });

  test('servers admitted but not started yet are not an error (admission counts more than is known)', () => {
    const i = input({ served: [service('a')], serving: serving({ servers: [] }), admission: admission({ a: 3 }) });
    assert.deepEqual(checkConsistency(i), []);
  });
});

describe('two samples and the report', () => {
  test('only problems seen in both samples are reported', async () => {
    const good = input({});
    const bad = input({ serving: serving({ listeners: [{ id: 'x', state: 'active', hasSocket: true }] }) });
    assert.deepEqual(persistent(checkConsistency(bad), checkConsistency(good)), []);
    const samples = [bad, good];
    assert.deepEqual(await runConsistencyCheck(() => samples.shift() ?? null, 1), []);
    assert.equal(await runConsistencyCheck(() => null, 1), null, 'nothing to sample: no verdict');
    const again = [bad, bad];
    assert.equal((await runConsistencyCheck(() => again.shift() ?? null, 1))?.length, 1);
  });

  test('xinetd wording: ERROR lines then a WARNING count; "passed" only when asked for or in debug mode', () => {
    const lines: string[] = [];
    const r = {
      error: (m: string, f: string) => lines.push(`ERROR {${f}} ${m}`),
      warning: (m: string, f: string) => lines.push(`WARNING {${f}} ${m}`),
      info: (m: string, f: string) => lines.push(`INFO {${f}} ${m}`),
    };
    reportConsistency([], 'periodic', false, r);
    assert.deepEqual(lines, []);
    reportConsistency([], 'requested', false, r);
    reportConsistency([], 'periodic', true, r);
    assert.deepEqual(lines.splice(0), ['INFO {consistency_check} Consistency check passed', 'INFO {consistency_check} Consistency check passed']);
    reportConsistency([{ key: 'k', func: 'thread_check', message: 'm' }], 'periodic', false, r);
    assert.deepEqual(lines, ['ERROR {thread_check} m', 'WARNING {consistency_check} Consistency check detected 1 error']);
  });
});
