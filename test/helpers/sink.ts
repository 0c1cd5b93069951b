// A writable stream that keeps what is written, for tests that capture a log destination.

import { Writable } from 'node:stream';

/** A stream whose text() is everything written to it so far. */
export function textSink(): Writable & { text: () => string } {
  const chunks: string[] = [];
  const w = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return Object.assign(w, { text: () => chunks.join('') });
}
