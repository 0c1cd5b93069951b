// What a server is started with, from the security point of view, with both spawners:
// - no shell ever sees server_args: `$(...)`, `;`, backticks, pipes, redirections and globs
//   arrive as plain argv words (and the commands in them never run);
// - the environment is exactly what the configuration says: everything of the daemon's when
//   passenv is unset (xinetd's rule; nothing of tsinetd's own, even when it daemonizes),
//   nothing when passenv is empty, only the named variables otherwise; `env` overrides; and
//   REMOTE_HOST cannot be forged by the configuration.
// The servers are /usr/bin/printf and /usr/bin/env: no shell anywhere.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { programService, startDaemon } from '../../helpers/daemon.js';
import { freePort, tcpRequest } from '../../helpers/net.js';

const SPAWNERS = ['native', 'node'] as const;

async function reply(port: number): Promise<string> {
  const r = await tcpRequest({ port });
  assert.equal(r.ended, 'eof', r.data.toString());
  return r.data.toString();
}

/** NAME=value lines of /usr/bin/env into a map. */
function envOf(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) m.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return m;
}

/** The daemon's environment for these tests: a secret it must not hand out unless told to. */
function daemonEnv(spawner: string): NodeJS.ProcessEnv {
  return { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: '/root', SECRET_TOKEN: 's3cr3t', LANG_MARK: 'kept', TSINETD_SPAWNER: spawner };
}

for (const spawner of SPAWNERS) {
  describe(`${spawner} spawner`, () => {
    test('server_args reach the program word for word: no shell expands or runs anything', async (t) => {
      const port = await freePort();
      const daemon = await startDaemon(t, { services: [], env: daemonEnv(spawner) });
      const marker = join(daemon.dir, 'pwned');
      // The daemon's directory is only known once it runs: the services come with a reload.
      // server_args is split on blanks only (as xinetd does); printf prints each word in brackets.
      const words = [
        '$(touch',
        `${marker})`,
        `;touch`,
        marker,
        `\`touch`,
        `${marker}\``,
        '|',
        'id',
        '&&',
        '>',
        marker,
        '*',
        '~',
        '$HOME',
        "'quoted'",
        '"dq"',
        '\\n',
      ];
      const port2 = await freePort();
      daemon.rewrite([
        programService('args', port, '/usr/bin/printf', { server_args: `[%s]\\n ${words.join(' ')}` }),
        programService('named', port2, '/usr/bin/printf', { flags: 'NAMEINARGS', server_args: `printf <%s>\\n $(id) ;id` }),
      ]);
      daemon.signal('SIGHUP');
      await daemon.waitForDaemonLog(/Reconfigured: new=2/);
      const text = await reply(port);
      assert.equal(text, words.map((w) => `[${w}]\n`).join(''));
      assert.equal(await reply(port2), '<$(id)>\n<;id>\n');
      assert.equal(existsSync(marker), false, 'a command inside server_args was run');
    });

    test('passenv unset: the daemon environment as the daemon got it, plus REMOTE_HOST; nothing of tsinetd', async (t) => {
      const port = await freePort();
      // Daemonized (no -dontfork): the copy that serves must not pass its own marker variables.
      await startDaemon(t, { services: [programService('all', port, '/usr/bin/env', {})], env: daemonEnv(spawner), dontfork: false });
      const env = envOf(await reply(port));
      const expected = new Map(Object.entries(daemonEnv(spawner)) as Array<[string, string]>);
      expected.set('REMOTE_HOST', '::ffff:127.0.0.1');
      assert.deepEqual(new Map([...env].sort()), new Map([...expected].sort()));
    });

    test('passenv empty: nothing but env entries and REMOTE_HOST', async (t) => {
      const port = await freePort();
      await startDaemon(t, { services: [programService('none', port, '/usr/bin/env', { passenv: '', env: 'ONLY=this' })], env: daemonEnv(spawner) });
      const env = envOf(await reply(port));
      assert.deepEqual([...env.keys()].sort(), ['ONLY', 'REMOTE_HOST']);
      assert.equal(env.get('ONLY'), 'this');
    });

    test('passenv names: only those (when set); env overrides them; REMOTE_HOST cannot be forged', async (t) => {
      const port = await freePort();
      await startDaemon(t, {
        services: [
          programService('some', port, '/usr/bin/env', {
            passenv: 'PATH LANG_MARK NOT_SET_ANYWHERE',
            env: 'PATH=/override REMOTE_HOST=forged.example EXTRA=1',
          }),
        ],
        env: daemonEnv(spawner),
      });
      const env = envOf(await reply(port));
      assert.deepEqual([...env.keys()].sort(), ['EXTRA', 'LANG_MARK', 'PATH', 'REMOTE_HOST']);
      assert.equal(env.get('PATH'), '/override');
      assert.equal(env.get('LANG_MARK'), 'kept');
      assert.equal(env.get('REMOTE_HOST'), '::ffff:127.0.0.1');
      assert.equal(env.has('SECRET_TOKEN'), false);
    });
  });
}
