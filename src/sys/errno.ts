// Error codes and the words for them, defined once: errno numbers and names (Node's tables,
// which are libuv's), the text xinetd's log lines carry (glibc's strerror), and the short
// reasons tsinetd gives for a file it cannot read.

import { constants } from 'node:os';
import { getSystemErrorMap } from 'node:util';

/** The errno number of a code such as 'EADDRINUSE' on this system, or undefined. */
export function errnoOf(code: string): number | undefined {
  return (constants.errno as Record<string, number | undefined>)[code];
}

let errorMap: Map<number, [string, string]> | null = null;

/** An errno number as its name and libuv's text, e.g. ['ENOENT', 'no such file or directory']. */
export function describeErrno(errno: number): [string, string] {
  errorMap ??= getSystemErrorMap();
  return errorMap.get(-errno) ?? [`errno ${errno}`, 'unknown error'];
}

/**
 * glibc's strerror() text of each errno code Node knows on Linux (glibc 2.36, Debian 12; the
 * texts have not changed in decades). xinetd's log lines carry these; libuv words many of them
 * otherwise. test/unit/errno.test.ts checks the table against the C library through python3.
 */
const GLIBC_STRERROR: Readonly<Record<string, string>> = {
  E2BIG: 'Argument list too long',
  EACCES: 'Permission denied',
  EADDRINUSE: 'Address already in use',
  EADDRNOTAVAIL: 'Cannot assign requested address',
  EAFNOSUPPORT: 'Address family not supported by protocol',
  EAGAIN: 'Resource temporarily unavailable',
  EALREADY: 'Operation already in progress',
  EBADF: 'Bad file descriptor',
  EBADMSG: 'Bad message',
  EBUSY: 'Device or resource busy',
  ECANCELED: 'Operation canceled',
  ECHILD: 'No child processes',
  ECONNABORTED: 'Software caused connection abort',
  ECONNREFUSED: 'Connection refused',
  ECONNRESET: 'Connection reset by peer',
  EDEADLK: 'Resource deadlock avoided',
  EDESTADDRREQ: 'Destination address required',
  EDOM: 'Numerical argument out of domain',
  EDQUOT: 'Disk quota exceeded',
  EEXIST: 'File exists',
  EFAULT: 'Bad address',
  EFBIG: 'File too large',
  EHOSTUNREACH: 'No route to host',
  EIDRM: 'Identifier removed',
  EILSEQ: 'Invalid or incomplete multibyte or wide character',
  EINPROGRESS: 'Operation now in progress',
  EINTR: 'Interrupted system call',
  EINVAL: 'Invalid argument',
  EIO: 'Input/output error',
  EISCONN: 'Transport endpoint is already connected',
  EISDIR: 'Is a directory',
  ELOOP: 'Too many levels of symbolic links',
  EMFILE: 'Too many open files',
  EMLINK: 'Too many links',
  EMSGSIZE: 'Message too long',
  EMULTIHOP: 'Multihop attempted',
  ENAMETOOLONG: 'File name too long',
  ENETDOWN: 'Network is down',
  ENETRESET: 'Network dropped connection on reset',
  ENETUNREACH: 'Network is unreachable',
  ENFILE: 'Too many open files in system',
  ENOBUFS: 'No buffer space available',
  ENODATA: 'No data available',
  ENODEV: 'No such device',
  ENOENT: 'No such file or directory',
  ENOEXEC: 'Exec format error',
  ENOLCK: 'No locks available',
  ENOLINK: 'Link has been severed',
  ENOMEM: 'Cannot allocate memory',
  ENOMSG: 'No message of desired type',
  ENOPROTOOPT: 'Protocol not available',
  ENOSPC: 'No space left on device',
  ENOSR: 'Out of streams resources',
  ENOSTR: 'Device not a stream',
  ENOSYS: 'Function not implemented',
  ENOTCONN: 'Transport endpoint is not connected',
  ENOTDIR: 'Not a directory',
  ENOTEMPTY: 'Directory not empty',
  ENOTSOCK: 'Socket operation on non-socket',
  ENOTSUP: 'Operation not supported',
  ENOTTY: 'Inappropriate ioctl for device',
  ENXIO: 'No such device or address',
  EOPNOTSUPP: 'Operation not supported',
  EOVERFLOW: 'Value too large for defined data type',
  EPERM: 'Operation not permitted',
  EPIPE: 'Broken pipe',
  EPROTO: 'Protocol error',
  EPROTONOSUPPORT: 'Protocol not supported',
  EPROTOTYPE: 'Protocol wrong type for socket',
  ERANGE: 'Numerical result out of range',
  EROFS: 'Read-only file system',
  ESPIPE: 'Illegal seek',
  ESRCH: 'No such process',
  ESTALE: 'Stale file handle',
  ETIME: 'Timer expired',
  ETIMEDOUT: 'Connection timed out',
  ETXTBSY: 'Text file busy',
  EWOULDBLOCK: 'Resource temporarily unavailable',
  EXDEV: 'Invalid cross-device link',
};

/** glibc's strerror() text for a code (as xinetd logs it), or undefined for a code that is no errno. */
export function strerror(code: string): string | undefined {
  return GLIBC_STRERROR[code];
}

/** tsinetd's own short words for a failed file-system call, where libuv's are unclear. */
const FILE_REASONS: Readonly<Record<string, string>> = {
  EISDIR: 'it is a directory',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'the name is too long',
};

/** A short readable reason for a failed file-system call ('no such file or directory'). */
export function fsReason(err: unknown): string {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String(err.code) : '';
  const own = FILE_REASONS[code];
  if (own !== undefined) return own;
  const errno = code === '' ? undefined : errnoOf(code);
  if (errno !== undefined) {
    const [name, text] = describeErrno(errno);
    if (name === code) return text;
  }
  return err instanceof Error ? err.message : String(err);
}
