// fromEnv() (options.ts): each TSINETD_* variable read as its reader always took it, an empty
// value as unset, nothing else of the environment looked at.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_BIND_RETRY_MS } from '../../../src/serve/bind-retry.js';
import { loadavgPath } from '../../../src/admission/loadavg.js';
import { ENV_NAMES, fromEnv, type EnvOptions } from '../../../src/app/options.js';
import { spawnerPreference } from '../../../src/spawn/spawner.js';

const UNSET: EnvOptions = {
  spawner: null,
  spawnd: null,
  staticHelper: false,
  helperAccept: true,
  spawndFork: false,
  identPort: undefined,
  bindRetryMs: DEFAULT_BIND_RETRY_MS,
  syslogIdent: null,
  syslogSocket: null,
  loadavgFile: null,
  keepV8Defaults: false,
  daemonChild: false,
  rpcbindSocket: null,
  rpcbindCheckMs: undefined,
  nodeInternals: true,
};

test('with nothing set, or everything set empty, every field has its default', () => {
  assert.deepEqual(fromEnv({}), UNSET);
  assert.deepEqual(fromEnv(Object.fromEntries(Object.values(ENV_NAMES).map((n) => [n, '']))), UNSET);
  // Other variables, and names that only look alike, change nothing.
  assert.deepEqual(fromEnv({ HOME: '/root', CC: 'clang', tsinetd_spawner: 'node', TSINETD_SPAWNERS: 'node' }), UNSET);
});

test('each variable, with the values its reader takes and those it ignores', () => {
  const cases: Array<[Record<string, string>, Partial<EnvOptions>]> = [
    [{ TSINETD_SPAWNER: 'node' }, { spawner: 'node' }],
    [{ TSINETD_SPAWNER: 'native' }, { spawner: 'native' }],
    [{ TSINETD_SPAWNER: 'Node' }, {}],
    [{ TSINETD_SPAWND: '/opt/h' }, { spawnd: '/opt/h' }],
    [{ TSINETD_STATIC: '1' }, { staticHelper: true }],
    [{ TSINETD_STATIC: 'yes' }, {}],
    [{ TSINETD_HELPER_ACCEPT: '0' }, { helperAccept: false }],
    [{ TSINETD_HELPER_ACCEPT: 'no' }, {}],
    [{ TSINETD_SPAWND_FORK: '1' }, { spawndFork: true }],
    [{ TSINETD_SPAWND_FORK: '0' }, {}],
    [{ TSINETD_IDENT_PORT: '1113' }, { identPort: 1113 }],
    [{ TSINETD_IDENT_PORT: '65535' }, { identPort: 65535 }],
    [{ TSINETD_IDENT_PORT: '0' }, {}],
    [{ TSINETD_IDENT_PORT: '65536' }, {}],
    [{ TSINETD_IDENT_PORT: '113x' }, {}],
    [{ TSINETD_BIND_RETRY_MS: '250' }, { bindRetryMs: 250 }],
    [{ TSINETD_BIND_RETRY_MS: '0' }, { bindRetryMs: 1 }],
    [{ TSINETD_BIND_RETRY_MS: 'soon' }, {}],
    [{ TSINETD_BIND_RETRY_MS: '-5' }, {}],
    [{ TSINETD_SYSLOG_IDENT: 'inetd' }, { syslogIdent: 'inetd' }],
    [{ TSINETD_SYSLOG_SOCKET: '/run/log' }, { syslogSocket: '/run/log' }],
    [{ TSINETD_LOADAVG_FILE: '/tmp/load' }, { loadavgFile: '/tmp/load' }],
    [{ TSINETD_V8_DEFAULTS: '1' }, { keepV8Defaults: true }],
    [{ TSINETD_DAEMON_CHILD: '1' }, { daemonChild: true }],
    [{ TSINETD_DAEMON_CHILD: 'true' }, {}],
    [{ TSINETD_RPCBIND_SOCKET: '/tmp/rpcbind.sock' }, { rpcbindSocket: '/tmp/rpcbind.sock' }],
    [{ TSINETD_RPCBIND_CHECK_MS: '500' }, { rpcbindCheckMs: 500 }],
    [{ TSINETD_RPCBIND_CHECK_MS: '1' }, { rpcbindCheckMs: 10 }],
    [{ TSINETD_RPCBIND_CHECK_MS: 'often' }, {}],
    [{ TSINETD_NODE_INTERNALS: '0' }, { nodeInternals: false }],
    [{ TSINETD_NODE_INTERNALS: 'no' }, {}],
  ];
  for (const [env, changed] of cases) assert.deepEqual(fromEnv(env), { ...UNSET, ...changed }, JSON.stringify(env));
});

test('every field has its variable, each name once', () => {
  assert.deepEqual(Object.keys(ENV_NAMES).sort(), Object.keys(UNSET).sort());
  const names = Object.values(ENV_NAMES);
  assert.equal(new Set(names).size, names.length);
});

test('the readers take the object: the spawner choice and the load average file', () => {
  assert.equal(spawnerPreference({ prefer: 'native' }, fromEnv({ TSINETD_SPAWNER: 'node' })), 'node');
  assert.equal(spawnerPreference({ prefer: 'native' }, fromEnv({})), 'native');
  assert.equal(spawnerPreference({}, fromEnv({})), 'auto');
  assert.equal(loadavgPath(fromEnv({ TSINETD_LOADAVG_FILE: '/tmp/l' })), '/tmp/l');
  assert.equal(loadavgPath(fromEnv({})), '/proc/loadavg');
});
