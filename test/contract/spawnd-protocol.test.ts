// The spawn helper's protocol as a contract (native/PROTOCOL.md): stored request/reply
// transcripts (test/contract/transcripts/) are checked against the TypeScript encoder and
// decoder, then replayed against the real helper binary over Node's IPC channel; the request
// size limit is the same on both sides; the C sources take every shared name and limit from the
// generated header, none written out again. A transcript may also say what a client does
// (`! ACTION`: connect to a listener given to the helper, receive what it is sent; send a unix
// datagram, look at a socket file), for the accepting requests and the unix datagram sockets;
// the ids and ports that vary by run are scrubbed (see accepting.txt), and "@DIR@" in a path
// stands for a scratch directory (unix-datagram.txt).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn as startProcess, type ChildProcess } from 'node:child_process';
import * as dgram from 'node:dgram';
import { chmodSync, lstatSync, readdirSync, readFileSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  encodeSpawnRequest,
  parseHelperMessage,
  parseHelperRequest,
  requestBytes,
  requests,
  type HelperRequest,
  type SpawnRequest,
} from '../../src/spawn/native/spawnd-messages.js';
import { CHILD_STARTS, MAX_REQUEST_BYTES, protocolHeader, REPLIES, REQUESTS, STAGES, VERSION } from '../../src/spawn/native/spawnd-protocol.js';
import type { SpawnSpec } from '../../src/spawn/spawn-types.js';
import { rawDescriptorHandle, SEND_OPTIONS, socketHandle } from '../../src/sys/uv-handles.js';
import { WaitSocket } from '../../src/serve/wait-socket.js';
import { withTimeout } from '../helpers/net.js';
import { noHelper, usableHelper } from '../helpers/spawnd.js';
import { tempDir } from '../helpers/temp.js';
import { sendUnixDgram, unixDgramUnavailable } from '../helpers/unix-dgram.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const TRANSCRIPTS = join(ROOT, 'test', 'contract', 'transcripts');
const NOT_BUILT = noHelper();
const WAIT_MS = 5000;

interface Step {
  kind: 'send' | 'send-fd' | 'expect' | 'act';
  json: Record<string, unknown>;
  text: string;
  /** Fields whose value varies by run (expect steps). */
  any: ReadonlySet<string>;
  line: number;
}

function readTranscript(name: string): Step[] {
  const steps: Step[] = [];
  let any: ReadonlySet<string> = new Set();
  readFileSync(join(TRANSCRIPTS, name), 'utf8')
    .split('\n')
    .forEach((raw, i) => {
      const line = raw.trimEnd();
      if (line === '' || line.startsWith('#')) return;
      if (line.startsWith('any:')) {
        any = new Set(line.slice(4).trim().split(/\s+/).filter(Boolean));
        return;
      }
      const m = /^(@>|>|<|!) (.*)$/.exec(line);
      assert.ok(m, `${name}:${i + 1}: not a transcript line`);
      const text = m[2]!;
      const kind = m[1] === '<' ? 'expect' : m[1] === '@>' ? 'send-fd' : m[1] === '!' ? 'act' : 'send';
      steps.push({ kind, json: JSON.parse(text) as Record<string, unknown>, text, any, line: i + 1 });
    });
  return steps;
}

function transcripts(): string[] {
  return readdirSync(TRANSCRIPTS)
    .filter((n) => n.endsWith('.txt'))
    .sort();
}

/** The SpawnSpec a spawn request was encoded from. */
function specOf(r: SpawnRequest): SpawnSpec {
  const spec: SpawnSpec = {
    path: r.path,
    argv: r.argv,
    env: r.env,
    uid: r.uid,
    gid: r.gid,
    groups: r.groups,
    umask: r.umask,
    nice: r.nice,
    rlimits: r.rlimits,
  };
  if (r.keepalive !== undefined || r.linger !== undefined || r.pre !== undefined) {
    spec.socketSetup = { keepalive: r.keepalive === true, lingerSeconds: r.linger ?? null, pre: r.pre === undefined ? null : Buffer.from(r.pre, 'hex') };
  }
  return spec;
}

/** The request as tsinetd's own encoder writes it, or null when the encoder refuses it. */
function encodeAgain(r: HelperRequest): HelperRequest | null {
  switch (r.cmd) {
    case 'spawn': {
      const e = encodeSpawnRequest(r.id, specOf(r), r.cid !== undefined ? { cid: r.cid } : r.lid !== undefined ? { lid: r.lid } : undefined);
      return e.ok ? e.request : null;
    }
    case 'kill':
      return requests.kill(r.pid, r.sig).request;
    case 'ping':
      return requests.ping(r.id).request;
    case 'listen':
      return requests.listen(r.lid);
    case 'peek':
      return requests.peek(r.id);
    case 'unlisten':
      return requests.unlisten(r.lid).request;
    case 'pause':
    case 'resume':
      return requests.accepting(r.lid, r.cmd === 'resume').request;
    case 'reply':
      return requests.reply(r.cid, Buffer.from(r.hex, 'hex'))?.request ?? null;
    case 'drop':
      return requests.drop(r.cid).request;
    case 'ubind':
      return requests.ubind(r.lid, r.path)?.request ?? null;
    case 'watch':
      return requests.watch(r.lid).request;
    case 'drain':
      return requests.drain(r.lid).request;
    case 'batch': {
      const list = r.list.map(encodeAgain);
      return list.every((x) => x !== null) ? { cmd: 'batch', list: list as Extract<HelperRequest, { cmd: 'batch' }>['list'] } : null;
    }
  }
}

/** Whether a reply says the request was refused as malformed. */
function isRefusal(reply: Record<string, unknown>): boolean {
  return reply['t'] === 'warn' || (reply['t'] === 'error' && reply['stage'] === 'request');
}

test('every transcript request is what the TypeScript encoder writes, or one it refuses and the helper refuses too', () => {
  for (const name of transcripts()) {
    const steps = readTranscript(name);
    assert.ok(steps.length > 2, name);
    for (const [i, step] of steps.entries()) {
      const where = `${name}:${step.line}`;
      assert.equal(JSON.stringify(step.json), step.text, `${where}: written as Node writes it (JSON.stringify)`);
      if (step.kind === 'act') continue;
      if (step.kind === 'expect') {
        const parsed = parseHelperMessage(step.json);
        assert.ok(parsed !== null, `${where}: the decoder reads this reply`);
        assert.equal(JSON.stringify(parsed), step.text, `${where}: decoded without loss`);
        if (parsed.t === 'error') assert.ok((STAGES as readonly string[]).includes(parsed.stage), `${where}: a known stage`);
        continue;
      }
      const decoded = parseHelperRequest(step.json);
      const again = decoded === null ? null : encodeAgain(decoded);
      const next = steps.slice(i + 1).find((s) => s.kind === 'expect');
      if (again === null) {
        assert.ok(next !== undefined && isRefusal(next.json), `${where}: refused by the encoder, so the helper must refuse it too`);
        continue;
      }
      assert.equal(JSON.stringify(again), step.text, `${where}: the encoder writes exactly this`);
      assert.ok(requestBytes(again) <= MAX_REQUEST_BYTES);
      const needsOne = again.cmd === 'listen' || again.cmd === 'peek' || (again.cmd === 'spawn' && again.cid === undefined && again.lid === undefined);
      if (needsOne !== (step.kind === 'send-fd')) {
        assert.ok(
          next !== undefined && isRefusal(next.json),
          `${where}: sent ${needsOne ? 'without the descriptor it needs' : 'with a descriptor it does not take'}, so the helper must refuse it`,
        );
      }
    }
  }
});

/** The helper over a real IPC channel, its messages queued for the test to take in order. */
function startHelper(t: TestContext, env: NodeJS.ProcessEnv = {}): { child: ChildProcess; next: () => Promise<Record<string, unknown>> } {
  const child = startProcess(usableHelper()!, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env, serialization: 'json' });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const queue: Array<Record<string, unknown>> = [];
  let wake: (() => void) | null = null;
  child.on('message', (m: Record<string, unknown>) => {
    queue.push(m);
    wake?.();
  });
  const next = async (): Promise<Record<string, unknown>> => {
    const deadline = Date.now() + WAIT_MS;
    while (queue.length === 0) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error('no message from the helper');
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 100);
      });
      wake = null;
    }
    return queue.shift()!;
  };
  return { child, next };
}

/**
 * A descriptor for a request: a connected TCP socket's server end (spawn), a bound UDP socket
 * (peek), a listening TCP socket the event loop does not watch (listen: its port is kept in
 * `ports` under the request's lid, for the clients of the transcript).
 */
async function descriptorFor(t: TestContext, request: Record<string, unknown>, ports: Map<unknown, number>): Promise<object> {
  const cmd = request['cmd'];
  if (cmd === 'listen') {
    const ws = WaitSocket.open({ transport: 'tcp', host: '127.0.0.1', family: 4, port: 0, v6only: false });
    t.after(() => ws.close());
    ports.set(request['lid'], ws.port);
    const raw = rawDescriptorHandle(ws.fd);
    assert.ok(raw.ok, JSON.stringify(raw));
    return raw.handle;
  }
  if (cmd === 'peek') {
    const udp = dgram.createSocket('udp4');
    t.after(() => udp.close());
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
    return udp;
  }
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  client.on('error', () => {});
  const sock = await accepted;
  t.after(() => {
    client.destroy();
    sock.destroy();
    server.close();
  });
  const handle = socketHandle(sock);
  assert.ok(handle !== null);
  return handle;
}

/** A client of the transcript (`! connect`): its local port, and what it has received so far. */
interface Client {
  from: string;
  port: number;
  data: Buffer[];
  ended: Promise<void>;
}

/** Does what an `! ACTION` line says. */
async function act(
  t: TestContext,
  where: string,
  a: Record<string, unknown>,
  clients: Map<unknown, Client>,
  ports: Map<unknown, number>,
  dir: string,
): Promise<void> {
  const path = typeof a['path'] === 'string' ? a['path'].replace(SCRATCH, dir) : '';
  if (a['act'] === 'send-unix') {
    sendUnixDgram(path, Buffer.from(a['hex'] as string, 'hex'));
  } else if (a['act'] === 'chmod') {
    chmodSync(path, parseInt(a['mode'] as string, 8));
  } else if (a['act'] === 'stat') {
    const st = lstatSync(path);
    assert.deepEqual([st.isSocket(), (st.mode & 0o7777).toString(8).padStart(4, '0')], [true, a['mode']], `${where}: ${path}`);
  } else if (a['act'] === 'wait') {
    await new Promise((resolve) => setTimeout(resolve, a['ms'] as number));
  } else if (a['act'] === 'connect') {
    const port = ports.get(a['lid']);
    assert.ok(port !== undefined, `${where}: no listener ${String(a['lid'])} was given to the helper`);
    const socket = net.connect({ port, host: '127.0.0.1', localAddress: a['from'] as string });
    t.after(() => socket.destroy());
    const data: Buffer[] = [];
    socket.on('data', (d: Buffer) => data.push(d));
    const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => {});
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    clients.set(a['client'], { from: a['from'] as string, port: socket.localPort!, data, ended });
  } else if (a['act'] === 'receive') {
    const c = clients.get(a['client']);
    assert.ok(c !== undefined, `${where}: no client ${String(a['client'])}`);
    await withTimeout(c.ended, WAIT_MS, `${where}: the helper's end of the connection to close`);
    assert.equal(Buffer.concat(c.data).toString('hex'), a['hex'], `${where}: what client ${String(a['client'])} received`);
  } else {
    assert.fail(`${where}: unknown action ${JSON.stringify(a)}`);
  }
}

/** What "@DIR@" stands for in a transcript's paths: the test's scratch directory. */
const SCRATCH = '@DIR@';

/** A request with every sample cid already bound (by a conn reply) replaced by the real one, and its ubind path in `dir`. */
function withRealIds(json: Record<string, unknown>, cids: Map<unknown, unknown>, dir: string): Record<string, unknown> {
  const out: Record<string, unknown> = { ...json };
  if (cids.has(out['cid'])) out['cid'] = cids.get(out['cid']);
  if (out['cmd'] === 'ubind' && typeof out['path'] === 'string') out['path'] = out['path'].replace(SCRATCH, dir);
  if (Array.isArray(out['list'])) out['list'] = (out['list'] as Array<Record<string, unknown>>).map((r) => withRealIds(r, cids, dir));
  return out;
}

/**
 * Compares a reply with the transcript's. Scrubbed fields (`any:`): `pids` and `cids` bind the
 * transcript's sample pids and connection ids to real ones, the same real one each time; a
 * conn's `port` is that of a client connected from its `addr`; others only keep their type.
 */
function matchReply(
  where: string,
  got: Record<string, unknown>,
  step: Step,
  bound: { pids: Map<unknown, unknown>; cids: Map<unknown, unknown> },
  clients: ReadonlyMap<unknown, Client>,
): void {
  const want = step.json;
  assert.deepEqual(Object.keys(got), Object.keys(want), `${where}: fields of ${JSON.stringify(got)}`);
  for (const [k, v] of Object.entries(want)) {
    if (!step.any.has(k)) {
      assert.deepEqual(got[k], v, `${where}: ${k} of ${JSON.stringify(got)}`);
    } else if ((k === 'pid' || k === 'cid') && v !== null) {
      const ids = k === 'pid' ? bound.pids : bound.cids;
      assert.ok(Number.isInteger(got[k]) && (got[k] as number) >= 0, `${where}: ${k} of ${JSON.stringify(got)}`);
      if (!ids.has(v)) {
        assert.ok(![...ids.values()].includes(got[k]), `${where}: ${k} ${String(got[k])} stands for another sample already`);
        ids.set(v, got[k]);
      }
      assert.equal(got[k], ids.get(v), `${where}: the same ${k} as before`);
    } else if (k === 'port' && got['t'] === 'conn') {
      const from = [...clients.values()].filter((c) => c.from === got['addr']).map((c) => c.port);
      assert.ok(from.includes(got[k] as number), `${where}: port ${String(got[k])} is not that of a client from ${String(got['addr'])} (${from.join(', ')})`);
    } else {
      assert.equal(typeof got[k], typeof v, `${where}: ${k} of ${JSON.stringify(got)}`);
    }
  }
}

// Both ways of starting children (native/children.c start_shared, start_forked) answer alike.
const MODES: Array<[string, NodeJS.ProcessEnv]> = [
  ['', {}],
  [' (children forked)', { TSINETD_SPAWND_FORK: '1' }],
];
for (const [name, [mode, env]] of transcripts().flatMap((n) => MODES.map((m) => [n, m] as const))) {
  const skip = NOT_BUILT || (readTranscript(name).some((s) => s.kind === 'act' && s.json['act'] === 'send-unix') && unixDgramUnavailable());
  test(`the real helper answers as transcript ${name} says${mode}`, { skip }, async (t) => {
    const { child, next } = startHelper(t, env);
    const dir = tempDir(t, 'transcript');
    const bound = { pids: new Map<unknown, unknown>(), cids: new Map<unknown, unknown>() };
    const clients = new Map<unknown, Client>();
    const ports = new Map<unknown, number>();
    for (const step of readTranscript(name)) {
      const where = `${name}:${step.line}`;
      if (step.kind === 'expect') {
        matchReply(where, await next(), step, bound, clients);
      } else if (step.kind === 'act') {
        await act(t, where, step.json, clients, ports, dir);
      } else if (step.kind === 'send') {
        child.send(withRealIds(step.json, bound.cids, dir));
      } else {
        const handle = await descriptorFor(t, step.json, ports);
        child.send(step.json, handle as net.Socket, SEND_OPTIONS);
      }
    }
  });
}

/** A spawn request whose JSON text is exactly `size` bytes. */
function requestOfSize(size: number): { spec: SpawnSpec; bytes: (spec: SpawnSpec) => number } {
  const spec: SpawnSpec = { path: '/bin/true', argv: ['true'], env: ['PAD='], uid: null, gid: null, groups: null, umask: 0o22, nice: null, rlimits: {} };
  const bytes = (s: SpawnSpec): number =>
    requestBytes({ cmd: 'spawn', id: 1, path: s.path, argv: s.argv, env: s.env, uid: null, gid: null, groups: null, umask: s.umask, nice: null, rlimits: {} });
  spec.env = [`PAD=${'x'.repeat(size - bytes(spec))}`];
  assert.equal(bytes(spec), size);
  return { spec, bytes };
}

test('a request of MAX_REQUEST_BYTES is encoded, one byte more is refused with the reason', () => {
  const { spec } = requestOfSize(MAX_REQUEST_BYTES);
  const ok = encodeSpawnRequest(1, spec);
  assert.ok(ok.ok);
  assert.equal(requestBytes(ok.request), MAX_REQUEST_BYTES);
  const over = encodeSpawnRequest(1, { ...spec, env: [`${spec.env[0]!}x`] });
  assert.equal(over.ok, false);
  assert.match(over.error, new RegExp(`larger than ${MAX_REQUEST_BYTES} bytes`));
});

test('the helper reads a request of MAX_REQUEST_BYTES and refuses one byte more, as the encoder does', { skip: NOT_BUILT, timeout: 30_000 }, async (t) => {
  const { child, next } = startHelper(t);
  assert.equal((await next())['t'], 'ready');
  const { spec } = requestOfSize(MAX_REQUEST_BYTES);
  const at = { cmd: 'spawn', id: 1, ...spec };
  const over = { cmd: 'spawn', id: 2, ...spec, env: [`${spec.env[0]!}x`] };
  assert.equal(requestBytes(at as SpawnRequest), MAX_REQUEST_BYTES);
  assert.equal(requestBytes(over as SpawnRequest), MAX_REQUEST_BYTES + 1);
  child.send(at);
  // Read: its own problem is answered (sent without a socket).
  assert.deepEqual(await next(), { t: 'error', id: 1, pid: null, stage: 'request', errno: 9, message: 'spawn request without a socket' });
  child.send(over);
  assert.deepEqual(await next(), { t: 'warn', message: `message longer than ${MAX_REQUEST_BYTES} bytes ignored` });
  // The helper goes on reading after the refused line.
  child.send({ cmd: 'ping', id: 3 });
  assert.deepEqual(await next(), { t: 'pong', id: 3, children: 0 });
});

test('the generated header carries every constant and name of the table; the C sources write none of them out again', () => {
  const header = protocolHeader();
  assert.match(header, new RegExp(`^#define SPAWND_PROTOCOL_VERSION ${VERSION}$`, 'm'));
  assert.match(header, new RegExp(`^#define SPAWND_MAX_REQUEST ${MAX_REQUEST_BYTES}$`, 'm'));
  for (const name of [...REQUESTS, ...REPLIES, ...STAGES, ...CHILD_STARTS]) assert.ok(header.includes(`"${name}"`), name);
  const native = join(ROOT, 'native');
  for (const file of readdirSync(native).filter((n) => n.endsWith('.c') || n.endsWith('.h'))) {
    const code = readFileSync(join(native, file), 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/\/\/.*$/gm, '');
    for (const name of [...REQUESTS, ...REPLIES, ...STAGES, ...CHILD_STARTS]) {
      assert.ok(!code.includes(`"${name}"`) && !code.includes(`\\"${name}\\"`), `${file} spells "${name}" itself: use the generated header`);
    }
    assert.doesNotMatch(code, /#define\s+(\w*PROTOCOL_VERSION|MAX_LINE|MAX_PRE|MAX_GROUPS|MAX_ID|MAX_REPLY)\b/, `${file} defines a shared limit itself`);
  }
});
