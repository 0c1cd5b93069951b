// `redirect = host port`: an in-process TCP proxy between the client and the target, with the
// byte counts for the TRAFFIC line (in = from the client, out = to the client). Each direction
// is half-closed on its own: when one side stops sending, the other is told (FIN) and may still
// answer; the proxy ends when both directions are done or either side fails. (xinetd instead
// closes both as soon as one side ends.) Like xinetd, a host name is resolved once, the first
// address being used until the daemon restarts.

import { lookup } from 'node:dns/promises';
import * as net from 'node:net';

export interface RedirectTarget {
  host: string;
  port: number;
}

export interface RedirectResult {
  inBytes: number;
  outBytes: number;
  /** Why the proxy could not connect or failed, or null when it ran to the end. */
  error: string | null;
}

/** Proxies `client` (paused, half-open allowed) to `target`; resolves when both sides are closed. */
export function proxy(client: net.Socket, target: RedirectTarget, connectTimeoutMs = 30_000): Promise<RedirectResult> {
  return new Promise<RedirectResult>((done) => {
    const result: RedirectResult = { inBytes: 0, outBytes: 0, error: null };
    const upstream = net.connect({ host: target.host, port: target.port, allowHalfOpen: true });
    let connected = false;
    let closed = 0;
    const fail = (err: Error): void => {
      if (result.error === null) result.error = connected ? err.message : `connect to ${target.host}:${target.port}: ${err.message}`;
      client.destroy();
      upstream.destroy();
    };
    const onClose = (): void => {
      if (++closed === 2) done(result);
    };
    client.once('close', onClose);
    upstream.once('close', onClose);
    client.on('error', fail);
    upstream.on('error', fail);
    upstream.setTimeout(connectTimeoutMs, () => {
      if (!connected) fail(new Error('connection timed out'));
    });
    upstream.once('connect', () => {
      connected = true;
      upstream.setTimeout(0);
      client.on('data', (chunk: Buffer) => {
        result.inBytes += chunk.length;
      });
      upstream.on('data', (chunk: Buffer) => {
        result.outBytes += chunk.length;
      });
      client.pipe(upstream);
      upstream.pipe(client);
    });
    // A client that goes away before the target answers ends the attempt.
    client.once('close', () => {
      if (!connected) upstream.destroy();
    });
  });
}

/** Resolves redirect hosts once each; IP literals are used as they are. */
export class RedirectResolver {
  private readonly cache = new Map<string, Promise<string>>();

  resolve(host: string): Promise<string> {
    if (net.isIP(host) !== 0) return Promise.resolve(host);
    let p = this.cache.get(host);
    if (p === undefined) {
      p = lookup(host).then((r) => r.address);
      // A failed lookup is retried at the next connection rather than remembered.
      p.catch(() => this.cache.delete(host));
      this.cache.set(host, p);
    }
    return p;
  }
}
