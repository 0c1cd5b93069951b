// A loopback identd (RFC 1413) for the USERID tests: it reads one query line per connection and
// lets the test decide when, and what, to answer.

import * as net from 'node:net';
import type { TestContext } from 'node:test';

export interface Identd {
  port: number;
  /** The query lines received, in order. */
  queries: string[];
}

/**
 * Listens on 127.0.0.1; `onQuery(query, answer)` is called for each query (without its CR-LF);
 * answer(text) writes text and closes that connection. Closed when the test ends.
 */
export async function startIdentd(t: TestContext, onQuery: (query: string, answer: (text: string) => void) => void): Promise<Identd> {
  const queries: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    let buf = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      buf += d;
      const end = buf.indexOf('\r\n');
      if (end < 0) return;
      const q = buf.slice(0, end);
      queries.push(q);
      onQuery(q, (text) => s.end(text));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { port: (server.address() as net.AddressInfo).port, queries };
}
