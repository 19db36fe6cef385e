/**
 * errno.ts: error numbers, as Linux's include/asm-generic/errno-base.h and errno.h number them.
 *
 * Layer: kernel basics, imported by every layer. Interface: each constant is the *negative* errno a
 * Linux kernel function returns (`return -ENOENT`), branded as `Errno`, so one convention serves
 * both kinds of result: a function returning an object returns `T | Errno`, a function returning a
 * count returns a non-negative number or an `Errno`. `isErr` tells them apart.
 * Invariant: every Errno is a negative integer whose magnitude is Linux's number for that name.
 */

declare const errnoBrand: unique symbol;
/** A negative Linux errno value, as kernel functions return it. */
export type Errno = number & { readonly [errnoBrand]: true };

const table = {
  EPERM: 1, ENOENT: 2, ESRCH: 3, EINTR: 4, EIO: 5, ENXIO: 6, E2BIG: 7, ENOEXEC: 8, EBADF: 9,
  ECHILD: 10, EAGAIN: 11, ENOMEM: 12, EACCES: 13, EFAULT: 14, ENOTBLK: 15, EBUSY: 16, EEXIST: 17,
  EXDEV: 18, ENODEV: 19, ENOTDIR: 20, EISDIR: 21, EINVAL: 22, ENFILE: 23, EMFILE: 24, ENOTTY: 25,
  ETXTBSY: 26, EFBIG: 27, ENOSPC: 28, ESPIPE: 29, EROFS: 30, EMLINK: 31, EPIPE: 32, EDOM: 33,
  ERANGE: 34, EDEADLK: 35, ENAMETOOLONG: 36, ENOLCK: 37, ENOSYS: 38, ENOTEMPTY: 39, ELOOP: 40,
  ENOMSG: 42, ENODATA: 61, EPROTO: 71, EOVERFLOW: 75, EBADMSG: 74, EUSERS: 87, ENOTSOCK: 88,
  EDESTADDRREQ: 89, ENOPROTOOPT: 92, EPROTONOSUPPORT: 93, ESOCKTNOSUPPORT: 94, EOPNOTSUPP: 95,
  EAFNOSUPPORT: 97, EADDRINUSE: 98, EADDRNOTAVAIL: 99, ENETUNREACH: 101, ECONNABORTED: 103,
  ECONNRESET: 104, EISCONN: 106, ENOTCONN: 107, ETIMEDOUT: 110, ECONNREFUSED: 111,
  EHOSTUNREACH: 113, EALREADY: 114, EINPROGRESS: 115, ESTALE: 116, EUCLEAN: 117, EDQUOT: 122,
} as const;

export type ErrnoName = keyof typeof table;

function neg(name: ErrnoName): Errno {
  return -table[name] as Errno;
}

export const EPERM = neg('EPERM');
export const ENOENT = neg('ENOENT');
export const ESRCH = neg('ESRCH');
export const EINTR = neg('EINTR');
export const EIO = neg('EIO');
export const ENXIO = neg('ENXIO');
export const E2BIG = neg('E2BIG');
export const EBADF = neg('EBADF');
export const EAGAIN = neg('EAGAIN');
export const ENOMEM = neg('ENOMEM');
export const EACCES = neg('EACCES');
export const EFAULT = neg('EFAULT');
export const EBUSY = neg('EBUSY');
export const EEXIST = neg('EEXIST');
export const EXDEV = neg('EXDEV');
export const ENODEV = neg('ENODEV');
export const ENOTDIR = neg('ENOTDIR');
export const EISDIR = neg('EISDIR');
export const EINVAL = neg('EINVAL');
export const ENFILE = neg('ENFILE');
export const EMFILE = neg('EMFILE');
export const ENOTTY = neg('ENOTTY');
export const ETXTBSY = neg('ETXTBSY');
export const EFBIG = neg('EFBIG');
export const ENOSPC = neg('ENOSPC');
export const ESPIPE = neg('ESPIPE');
export const EROFS = neg('EROFS');
export const EMLINK = neg('EMLINK');
export const EPIPE = neg('EPIPE');
export const EDOM = neg('EDOM');
export const ERANGE = neg('ERANGE');
export const ENAMETOOLONG = neg('ENAMETOOLONG');
export const ENOSYS = neg('ENOSYS');
export const ENOTEMPTY = neg('ENOTEMPTY');
export const ELOOP = neg('ELOOP');
export const ENODATA = neg('ENODATA');
export const EPROTO = neg('EPROTO');
export const EBADMSG = neg('EBADMSG');
export const EOVERFLOW = neg('EOVERFLOW');
export const EOPNOTSUPP = neg('EOPNOTSUPP');
export const ENOTSOCK = neg('ENOTSOCK');
export const EDESTADDRREQ = neg('EDESTADDRREQ');
export const ENOPROTOOPT = neg('ENOPROTOOPT');
export const EPROTONOSUPPORT = neg('EPROTONOSUPPORT');
export const ESOCKTNOSUPPORT = neg('ESOCKTNOSUPPORT');
export const EAFNOSUPPORT = neg('EAFNOSUPPORT');
export const EADDRINUSE = neg('EADDRINUSE');
export const EADDRNOTAVAIL = neg('EADDRNOTAVAIL');
export const ENETUNREACH = neg('ENETUNREACH');
export const ECONNABORTED = neg('ECONNABORTED');
export const ECONNRESET = neg('ECONNRESET');
export const EISCONN = neg('EISCONN');
export const ENOTCONN = neg('ENOTCONN');
export const ETIMEDOUT = neg('ETIMEDOUT');
export const ECONNREFUSED = neg('ECONNREFUSED');
export const EHOSTUNREACH = neg('EHOSTUNREACH');
export const EALREADY = neg('EALREADY');
export const EINPROGRESS = neg('EINPROGRESS');
export const ESTALE = neg('ESTALE');
export const EUCLEAN = neg('EUCLEAN');
export const EDQUOT = neg('EDQUOT');

const names: ReadonlyMap<number, ErrnoName> = new Map(
  Object.entries(table).map(([name, num]) => [-num, name as ErrnoName] as const),
);

/** True when `v` is an errno (a negative number); counts, fds and objects are not. */
export function isErr(v: unknown): v is Errno {
  return typeof v === 'number' && v < 0;
}

/** `ENOENT` for -2; `E?123` for a number this table does not name. */
export function errnoName(e: Errno): string {
  return names.get(e) ?? `E?${-e}`;
}

/** The Errno for a name such as `ENOENT`, or undefined when the name is unknown. */
export function errnoByName(name: string): Errno | undefined {
  return Object.hasOwn(table, name) ? neg(name as ErrnoName) : undefined;
}

/** Linux's positive number for an errno (2 for ENOENT), as user space sees it in `errno`. */
export function errnoNumber(e: Errno): number {
  return -e;
}
