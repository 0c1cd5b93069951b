// Banners: the raw bytes of a file, sent to a stream client as xinetd sends them.
// `banner` goes to every connection before access control, `banner_success` once the client is
// admitted (before the server starts), `banner_fail` when it is refused. The file is read at each
// connection, as xinetd does, so an edited banner is used at once. Datagram services get none
// (xinetd's write on an unconnected datagram socket goes nowhere).

import { readFile } from 'node:fs/promises';
import type * as net from 'node:net';

/** Writes `data` and resolves once it is handed to the kernel (or the socket failed). */
export function writeAll(socket: net.Socket, data: Buffer): Promise<void> {
  return new Promise<void>((done) => {
    if (socket.destroyed || data.length === 0) {
      done();
      return;
    }
    socket.write(data, () => done());
  });
}

/**
 * Sends the banner file at `path` to `socket`. Problems with the file are reported through
 * `report` (xinetd's wording) and do not stop the connection.
 */
export async function sendBanner(socket: net.Socket, path: string, serviceId: string, report: (message: string) => void): Promise<void> {
  const data = await readBanner(path, serviceId, report);
  if (data !== null) await writeAll(socket, data);
}

/** The bytes of the banner file at `path`, or null (reported through `report`, in xinetd's words). */
export async function readBanner(path: string, serviceId: string, report: (message: string) => void): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EACCES' || code === 'EPERM' || code === 'ENOTDIR') {
      report(`service = ${serviceId}, open of banner ${path} failed`);
    } else {
      report(`service ${serviceId}, Error ${code ?? String(err)} reading banner ${path}`);
    }
    return null;
  }
}
