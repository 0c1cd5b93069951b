// ident.ts: the RFC 1413 query and reply rules (as xinetd 2.3.15.3 applies them), the lookup
// against a real loopback identd, the -logprocs limiter, and the USERID / NOID decisions.

import assert from 'node:assert/strict';
import * as net from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import {
  explainIdent,
  identifyAdmitted,
  identifyRefused,
  identQuery,
  IdentLimiter,
  logAfterStart,
  lookupIdent,
  parseIdentReply,
  replyLine,
  type IdentContext,
  type IdentResult,
} from '../../../src/serve/ident.js';
import type { LogEvent } from '../../../src/log/log-types.js';
import type { Peer } from '../../../src/peer.js';
import { newService } from '../../../src/service-defaults.js';
import { startIdentd } from '../../helpers/identd.js';

describe('query and reply', () => {
  test('the query names the client port first, then ours', () => {
    assert.equal(identQuery(55982, 39517), '55982,39517\r\n');
  });

  test('a USERID reply for this connection gives the text after "USERID :"', () => {
    assert.equal(parseIdentReply('55982,39517 : USERID : UNIX : alice', 55982, 39517), 'UNIX : alice');
    assert.equal(parseIdentReply('55982 , 39517 : USERID : UNIX , US-ASCII : bob', 55982, 39517), 'UNIX , US-ASCII : bob');
    assert.equal(parseIdentReply('55982,39517:USERID:OTHER:x', 55982, 39517), 'OTHER:x');
  });

  test('other replies are refused: wrong ports, ERROR, missing parts', () => {
    for (const line of [
      '55983,39517 : USERID : UNIX : alice',
      '55982,39518 : USERID : UNIX : alice',
      '55982,39517 : ERROR : NO-USER',
      '55982,39517 : USERID',
      '55982,39517 : USERID :',
      '55982 39517 : USERID : UNIX : alice',
      'garbage',
      '',
    ]) {
      assert.equal(parseIdentReply(line, 55982, 39517), null, line);
    }
  });

  test('a reply line ends with CR-LF within 1024 bytes', () => {
    assert.equal(replyLine('1,2 : USERID : UNIX : a\r\n'), '1,2 : USERID : UNIX : a');
    assert.equal(replyLine('1,2 : USERID : UNIX : a\n'), 'more');
    assert.equal(replyLine('x'.repeat(1024)), 'toolong');
  });

  test("results are explained in xinetd's words", () => {
    const words = (['noserver', 'timeout'] as const).map((kind) => explainIdent({ kind }));
    assert.deepEqual(words, ['no server', 'timeout']);
    assert.equal(explainIdent({ kind: 'badresp', line: 'x' }), 'bad response');
    assert.equal(explainIdent({ kind: 'error', message: 'x' }), 'system error');
    assert.equal(explainIdent({ kind: 'resperr', message: 'x' }), 'error while receiving response');
  });
});

/** A loopback identd answering each query with `reply(query)` (null: never answers). */
async function identd(t: TestContext, reply: (query: string) => string | null): Promise<number> {
  const server = await startIdentd(t, (q, answer) => {
    const r = reply(q);
    if (r !== null) answer(r);
  });
  return server.port;
}

describe('lookupIdent against a real identd', () => {
  const base = { remoteAddress: '127.0.0.1', remotePort: 40000, localAddress: '127.0.0.1', localPort: 7 };

  test('ok, bad response, missing CR-LF, timeout, no server, abort', async (t) => {
    const ok = await identd(t, (q) => `${q} : USERID : UNIX : alice\r\n`);
    assert.deepEqual(await lookupIdent({ ...base, identPort: ok, timeoutMs: 2000 }), { kind: 'ok', text: 'UNIX : alice' });

    const bad = await identd(t, (q) => `${q} : ERROR : HIDDEN-USER\r\n`);
    assert.deepEqual(await lookupIdent({ ...base, identPort: bad, timeoutMs: 2000 }), { kind: 'badresp', line: '40000,7 : ERROR : HIDDEN-USER' });

    const noCrLf = await identd(t, () => 'no end');
    assert.equal((await lookupIdent({ ...base, identPort: noCrLf, timeoutMs: 2000 })).kind, 'resperr');

    const silent = await identd(t, () => null);
    const t0 = Date.now();
    assert.deepEqual(await lookupIdent({ ...base, identPort: silent, timeoutMs: 200 }), { kind: 'timeout' });
    assert.ok(Date.now() - t0 < 2000);

    const closedPort = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    assert.deepEqual(await lookupIdent({ ...base, identPort: closedPort, timeoutMs: 2000 }), { kind: 'noserver' });

    const ac = new AbortController();
    const pending = lookupIdent({ ...base, identPort: silent, timeoutMs: null, signal: ac.signal });
    ac.abort();
    assert.equal((await pending).kind, 'error');
  });
});

describe('the -logprocs limiter', () => {
  test('at most `limit` slots; released slots are reused', () => {
    const l = new IdentLimiter(2);
    assert.equal(l.tryAcquire(), true);
    assert.equal(l.tryAcquire(), true);
    assert.equal(l.tryAcquire(), false);
    l.release();
    assert.equal(l.tryAcquire(), true);
    assert.equal(l.inUse, 2);
  });
});

describe('identifying clients', () => {
  const peer: Peer = { address: '::ffff:127.0.0.1', port: 40000, family: 'IPv6' };
  // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- a stand-in with only the two fields the ident query reads
  const socket = { localAddress: '::ffff:127.0.0.1', localPort: 7 } as net.Socket;

  function context(result: IdentResult, limit = 15): { ctx: IdentContext; events: LogEvent[]; daemon: string[]; asked: number[] } {
    const events: LogEvent[] = [];
    const daemon: string[] = [];
    const asked: number[] = [];
    const ctx: IdentContext = {
      log: (e) => events.push(e),
      daemon: (code, level, message) => daemon.push(`${level} [${code}]: ${message}`),
      lookup: async (req) => {
        asked.push(req.timeoutMs ?? 0);
        return result;
      },
      limiter: new IdentLimiter(limit),
      identPort: 113,
      successTimeoutMs: 30_000,
      failureTimeoutMs: 30_000,
    };
    return { ctx, events, daemon, asked };
  }

  test('admitted: USERID to log after START; IDONLY without identity: NOID and no server', async () => {
    const s = newService('svc', 'xinetd', { file: 'x', line: 1 });
    const a = context({ kind: 'ok', text: 'UNIX : alice' });
    assert.deepEqual(await identifyAdmitted(a.ctx, s, peer, socket), { proceed: true, userid: { kind: 'USERID', service: s, text: 'UNIX : alice' } });
    assert.deepEqual(a.asked, [30_000]);

    const b = context({ kind: 'noserver' });
    assert.deepEqual(await identifyAdmitted(b.ctx, s, peer, socket), { proceed: true, userid: null });
    assert.deepEqual(b.daemon, []);

    const idonly = { ...s, flags: ['IDONLY'] };
    const c = context({ kind: 'timeout' });
    assert.equal((await identifyAdmitted(c.ctx, idonly, peer, socket)).proceed, false);
    assert.deepEqual(c.asked, [0], 'IDONLY waits without a time limit (xinetd)');
    assert.deepEqual(c.daemon, ['warning [noid]: NOID: svc ::ffff:127.0.0.1 timeout']);
  });

  test('refused: only refusals decided before forking are looked up; failures reported as xinetd does', async () => {
    const s = newService('svc', 'xinetd', { file: 'x', line: 1 });
    const a = context({ kind: 'ok', text: 'UNIX : bob' });
    await identifyRefused(a.ctx, s, peer, socket, 'address');
    assert.deepEqual(a.asked, [], "address refusals are decided in xinetd's child: no lookup");
    await identifyRefused(a.ctx, s, peer, socket, 'service_limit');
    assert.deepEqual(a.events, [{ kind: 'USERID', service: s, text: 'UNIX : bob' }]);

    const b = context({ kind: 'badresp', line: '1,2 : ERROR : X' });
    await identifyRefused(b.ctx, s, peer, socket, 'per_source_limit');
    assert.deepEqual(b.daemon, [
      'error [ident-bad-line]: Bad line received from identity server at ::ffff:127.0.0.1: 1,2 : ERROR : X',
      'error [ident-failed]: Failed to contact identity server at ::ffff:127.0.0.1: bad response',
    ]);

    const c = context({ kind: 'noserver' });
    await identifyRefused(c.ctx, s, peer, socket, 'connections per second');
    assert.deepEqual(c.daemon, [], 'no identd: nothing to report');

    const full = context({ kind: 'ok', text: 'x' }, 0);
    await identifyRefused(full.ctx, s, peer, socket, 'service_limit');
    assert.deepEqual(full.asked, [], '-logprocs 0: no lookup');
  });

  test('logAfterStart writes the USERID line right after the first START only', () => {
    const s = newService('svc', 'xinetd', { file: 'x', line: 1 });
    const seen: string[] = [];
    const ctx = { log: (e: LogEvent) => seen.push(e.kind), other: 42 };
    const d = logAfterStart(ctx, { kind: 'USERID', service: s, text: 'x' });
    d.log({ kind: 'START', service: s, pid: 1, peer });
    d.log({ kind: 'START', service: s, pid: 2, peer });
    d.log({ kind: 'EXIT', service: s, pid: 1, status: 0, signal: null, durationSeconds: 0 });
    assert.deepEqual(seen, ['START', 'USERID', 'START', 'EXIT']);
    assert.equal(d.other, 42);
  });
});
