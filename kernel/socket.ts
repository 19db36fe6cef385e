/**
 * socket.ts: the BSD socket calls, and sockets as ordinary file descriptors.
 *
 * Layer: kernel networking, the top of it (Linux net/socket.c and net/ipv4/af_inet.c). Interface:
 * the system calls `sys_socket`, `sys_bind`, `sys_listen`, `sys_accept`, `sys_connect`, `sys_send`,
 * `sys_recv`, `sys_shutdown`, `sys_setsockopt`, `sys_getsockopt`, `sys_getsockname`,
 * `sys_getpeername` and `sys_tcp_info` (exported by kernel/syscalls.ts). Each takes the calling
 * Process first and returns a Sys of the result or a negative errno, with Linux's errno for each
 * case. A socket is a file of sockfs (an inode of type S_IFSOCK in a per-kernel pseudo file system
 * that is never mounted, as Linux's): `sys_read`/`sys_write` on it are recv/send with no flags, and
 * `sys_close` is the socket's release (tcp_close). Only AF_INET SOCK_STREAM (TCP) exists.
 * Blocking calls sleep on the socket's wait queues; a signal (Task.interrupt) makes them return
 * EINTR if nothing was transferred yet; SO_RCVTIMEO/SO_SNDTIMEO bound a wait (EAGAIN, or
 * EINPROGRESS for connect). There are no signals, so no SIGPIPE: EPIPE is only returned.
 * Addresses are host names; a host can always reach its own name over loopback. With no network
 * device, connecting elsewhere gives ENETUNREACH; to a name the world does not know, EHOSTUNREACH.
 */
import { dget } from './dcache.ts';
import {
  EACCES, EADDRINUSE, EADDRNOTAVAIL, EAFNOSUPPORT, EBADF, ECONNABORTED, ECONNREFUSED, EDOM, EHOSTUNREACH, EINPROGRESS,
  EINTR, EINVAL, EISCONN, EMFILE, ENETUNREACH, ENOPROTOOPT, ENOTCONN, ENOTSOCK, EOPNOTSUPP, EPROTONOSUPPORT,
  ESOCKTNOSUPPORT, errnoNumber, isErr, type Errno,
} from './errno.ts';
import {
  DCACHE_UNHASHED, Dentry, File, FMODE_READ, FMODE_WRITE, O_RDWR, S_IFSOCK, SuperBlock, VfsMount,
  type FileOperations, type FileSystemType, type Inode,
} from './fs.ts';
import { current_fs_time, new_inode } from './inode.ts';
import type { Kernel, KernelSlot } from './kernel.ts';
import { INADDR_ANY, type SockAddr } from './netdevice.ts';
import type { Process } from './process.ts';
import type { Sys } from './sched.ts';
import { down, up } from './semaphore.ts';
import {
  sk_wait, SOCK_BUF_MAX, SOCK_MIN_RCVBUF, SOCK_MIN_SNDBUF, SOMAXCONN, sock_error,
  tcp_close, tcp_connect, tcp_info, tcp_listen_start, tcp_recvmsg, tcp_sendmsg, tcp_shutdown, TcpSock,
  timeoDeadline, type TcpInfo,
} from './tcp.ts';
import { tcp_stack } from './tcp_ipv4.ts';
import { tcp_arm_keepalive } from './tcp_timer.ts';

export type { SockAddr } from './netdevice.ts';
export { INADDR_ANY } from './netdevice.ts';

// ---- constants, with Linux's numbers ----
export const AF_INET = 2;
export const SOCK_STREAM = 1;
export const IPPROTO_TCP = 6;
export const SOL_SOCKET = 1;
export const SO_REUSEADDR = 2;
export const SO_TYPE = 3;
export const SO_ERROR = 4;
export const SO_SNDBUF = 7;
export const SO_RCVBUF = 8;
export const SO_KEEPALIVE = 9;
/** In µs here (a stand-in for struct timeval); 0 waits forever. */
export const SO_RCVTIMEO = 20;
export const SO_SNDTIMEO = 21;
export const TCP_NODELAY = 1;
export const TCP_KEEPIDLE = 4;
export const TCP_KEEPINTVL = 5;
export const TCP_KEEPCNT = 6;
export const TCP_SYNCNT = 7;
export const MSG_OOB = 0x1;
export const MSG_PEEK = 0x2;
export const MSG_DONTWAIT = 0x40;
export const MSG_WAITALL = 0x100;
/** Accepted and meaningless: there are no signals to suppress. */
export const MSG_NOSIGNAL = 0x4000;
export const SHUT_RD = 0;
export const SHUT_WR = 1;
export const SHUT_RDWR = 2;
/** Linux's limits for TCP_KEEPIDLE/INTVL (MAX_TCP_KEEPIDLE), TCP_KEEPCNT and TCP_SYNCNT. */
const MAX_TCP_KEEPIDLE = 32767;
const MAX_TCP_KEEPCNT = 127;
const MAX_TCP_SYNCNT = 127;
/** The first port only root may bind (PROT_SOCK). */
const PROT_SOCK = 1024;

// ---- sockfs ----

const sockfs_type: FileSystemType = {
  name: 'sockfs',
  requiresDev: false,
  *read_super(): Sys<0 | Errno> {
    return EINVAL; // never mounted: sockets get their inodes from sock_alloc
  },
};

interface SockFs {
  readonly sb: SuperBlock;
  readonly mnt: VfsMount;
  nextIno: number;
}

const SOCKFS: KernelSlot<SockFs> = {
  name: 'sockfs',
  init(k: Kernel): SockFs {
    const sb = new SuperBlock(sockfs_type, 0, null, k);
    sb.s_blocksize = 4096;
    const root = new Dentry('/', null, sb);
    root.d_inode = new_inode(sb, 1);
    root.d_inode.i_mode = 0o040755;
    sb.s_root = root;
    return { sb, mnt: new VfsMount(sb, root, root, null, 'sockfs'), nextIno: 2 };
  },
};

/** A new socket file for `sk` (Linux sock_alloc + sock_map_fd's file). */
function sock_file(p: Process, sk: TcpSock): File {
  const fs = p.kernel.slot(SOCKFS);
  const ino = fs.nextIno++;
  const inode = new_inode(fs.sb, ino);
  inode.i_mode = S_IFSOCK | 0o777;
  inode.i_uid = p.cred.fsuid;
  inode.i_gid = p.cred.fsgid;
  const now = current_fs_time(fs.sb);
  inode.i_atime = now;
  inode.i_mtime = now;
  inode.i_ctime = now;
  const dentry = new Dentry(`socket:[${ino}]`, null, fs.sb);
  dentry.d_inode = inode;
  dentry.d_flags |= DCACHE_UNHASHED; // the last dput frees the inode
  dget(dentry);
  const file = new File(dentry, fs.mnt, socket_file_ops, O_RDWR, FMODE_READ | FMODE_WRITE, p.cred, p.pid);
  file.private_data = sk;
  return file;
}

const socket_file_ops: FileOperations = {
  *read(file, buf): Sys<number | Errno> {
    return yield* tcp_recvmsg(file.private_data as TcpSock, buf, { nonblock: false, peek: false, waitall: false });
  },
  *write(file, data): Sys<number | Errno> {
    return yield* tcp_sendmsg(file.private_data as TcpSock, data, false);
  },
  *release(_inode: Inode, file): Sys<0 | Errno> {
    tcp_close(file.private_data as TcpSock);
    return 0;
  },
};

/** The socket behind `fd`: EBADF for no file, ENOTSOCK for a file that is not a socket. */
function sockfd_lookup(p: Process, fd: number): TcpSock | Errno {
  const file = p.fget(fd);
  if (file === null) return EBADF;
  if (file.f_op !== socket_file_ops) return ENOTSOCK;
  return file.private_data as TcpSock;
}

function install(p: Process, sk: TcpSock): number | Errno {
  const fd = p.lowestFreeFd();
  if (fd < 0) return EMFILE;
  p.files[fd] = sock_file(p, sk);
  return fd;
}

function validAddr(addr: SockAddr): boolean {
  if (typeof addr !== 'object' || addr === null) return false;
  return typeof addr.host === 'string' && addr.host !== '' && Number.isInteger(addr.port) &&
    addr.port >= 0 && addr.port <= 65535;
}

// ---- the calls ----

export function* sys_socket(p: Process, domain: number, type: number, protocol = 0): Sys<number | Errno> {
  if (domain !== AF_INET) return EAFNOSUPPORT;
  if (type !== SOCK_STREAM) return ESOCKTNOSUPPORT;
  if (protocol !== 0 && protocol !== IPPROTO_TCP) return EPROTONOSUPPORT;
  return install(p, new TcpSock(tcp_stack(p.kernel)));
}

/** bind(): '*' or this host's name; port 0 picks an ephemeral port; below 1024 needs root. */
export function* sys_bind(p: Process, fd: number, addr: SockAddr): Sys<0 | Errno> {
  const sk = sockfd_lookup(p, fd);
  if (isErr(sk)) return sk;
  if (!validAddr(addr)) return EINVAL;
  if (sk.portHeld || sk.state !== 'CLOSED') return EINVAL;
  if (addr.host !== INADDR_ANY && addr.host !== p.kernel.hostname) return EADDRNOTAVAIL;
  if (addr.port !== 0 && addr.port < PROT_SOCK && p.cred.euid !== 0) return EACCES;
  const r = tcp_stack(p.kernel).bindPort(sk, addr.port);
  if (isErr(r)) return r;
  sk.bindHost = addr.host;
  sk.userBound = true;
  sk.name = `${p.kernel.hostname}:${sk.lport}`;
  return 0;
}

export function* sys_listen(p: Process, fd: number, backlog: number): Sys<0 | Errno> {
  const sk = sockfd_lookup(p, fd);
  if (isErr(sk)) return sk;
  const n = !Number.isInteger(backlog) || backlog < 0 || backlog > SOMAXCONN ? SOMAXCONN : backlog;
  if (sk.state === 'LISTEN') {
    sk.backlog = n;
    return 0;
  }
  if (sk.state !== 'CLOSED' || sk.connected || sk.connecting) return EINVAL;
  const st = tcp_stack(p.kernel);
  if (!sk.portHeld) {
    const r = st.bindPort(sk, 0);
    if (isErr(r)) return r;
    sk.bindHost = INADDR_ANY;
    sk.name = `${p.kernel.hostname}:${sk.lport}`;
  }
  if (st.listeners.has(sk.lport) || st.conflicts(sk, sk.lport)) return EADDRINUSE;
  tcp_listen_start(sk, n);
  return 0;
}

export interface Accepted {
  readonly fd: number;
  readonly addr: SockAddr;
}

/** accept(): the oldest established connection; blocks until there is one. */
export function* sys_accept(p: Process, fd: number): Sys<Accepted | Errno> {
  const sk = sockfd_lookup(p, fd);
  if (isErr(sk)) return sk;
  if (sk.state !== 'LISTEN') return EINVAL;
  const deadline = timeoDeadline(sk, sk.rcvtimeo);
  while (sk.acceptq.length === 0) {
    if (p.lowestFreeFd() < 0) return EMFILE;
    const e = yield* sk_wait(sk, sk.rq, 'tcp.accept', deadline);
    if (e !== null) return e;
    if (sk.state !== 'LISTEN') return EINVAL;
  }
  if (p.lowestFreeFd() < 0) return EMFILE; // checked before taking the connection, so none is lost
  const child = sk.acceptq.shift() as TcpSock;
  child.parent = null;
  const nfd = install(p, child) as number;
  p.kernel.tracer.emit('tcp.accept', { local: child.name, peer: child.peerName });
  return { fd: nfd, addr: { host: child.rhost, port: child.rport } };
}

/** Where `host` can be reached from this kernel, as connect sees it. */
function route(k: Kernel, host: string): 0 | Errno {
  if (host === k.hostname) return 0;
  if (k.netdev === null) return ENETUNREACH;
  return k.netdev.hostExists(host) ? 0 : EHOSTUNREACH;
}

/** connect(): blocks until established (0), refused, timed out, or interrupted. */
export function* sys_connect(p: Process, fd: number, addr: SockAddr): Sys<0 | Errno> {
  const sk = sockfd_lookup(p, fd);
  if (isErr(sk)) return sk;
  if (!validAddr(addr)) return EINVAL;
  if (sk.state === 'LISTEN' || (sk.connected && !sk.connecting)) return EISCONN;
  if (!sk.connecting) {
    const r = yield* start_connect(p, sk, addr);
    if (r !== 0) return r;
  }
  const deadline = timeoDeadline(sk, sk.sndtimeo);
  while (sk.state === 'SYN_SENT') {
    const e = yield* sk_wait(sk, sk.wq, 'tcp.connect', deadline);
    if (e === EINTR) return e; // the attempt goes on: a later connect waits for it
    if (e !== null) return EINPROGRESS;
  }
  sk.connecting = false;
  if (sk.state !== 'CLOSED') return 0;
  const e = sock_error(sk);
  // A failed connect leaves the socket as new (tcp_disconnect), so it may connect again.
  sk.connected = false;
  sk.shutdown = 0;
  sk.done = false;
  return e !== 0 ? e : ECONNABORTED;
}

function* start_connect(p: Process, sk: TcpSock, addr: SockAddr): Sys<0 | Errno> {
  const k = p.kernel;
  const host = addr.host === INADDR_ANY ? k.hostname : addr.host;
  const r = route(k, host);
  if (r !== 0) return r;
  if (addr.port === 0) return ECONNREFUSED;
  const st = tcp_stack(k);
  if (!sk.portHeld) {
    const b = st.bindPort(sk, 0);
    if (isErr(b)) return b;
  }
  st.setAddresses(sk, sk.lport, host, addr.port);
  const h = st.hash(sk);
  if (isErr(h)) return h;
  sk.connecting = true;
  tcp_connect(sk);
  return 0;
}

/** send(): MSG_DONTWAIT queues what fits (EAGAIN if nothing does); one sender at a time per socket. */
export function* sys_send(p: Process, fd: number, data: Uint8Array, flags = 0): Sys<number | Errno> {
  const sk = sockfd_lookup(p, fd);
  if (isErr(sk)) return sk;
  if ((flags & MSG_OOB) !== 0) return EOPNOTSUPP;
  const inode = (p.fget(fd) as File).f_inode;
  yield* down(inode.i_sem, 'i_sem.send');
  const n = yield* tcp_sendmsg(sk, data, (flags & MSG_DONTWAIT) !== 0);
  up(inode.i_sem);
  return n;
}

/** recv(): MSG_PEEK leaves the bytes queued, MSG_DONTWAIT never waits, MSG_WAITALL fills `buf`. */
export function* sys_recv(p: Process, fd: number, buf: Uint8Array, flags = 0): Sys<number | Errno> {
  const sk = sockfd_lookup(p, fd);
  if (isErr(sk)) return sk;
  if ((flags & MSG_OOB) !== 0) return EINVAL;
  return yield* tcp_recvmsg(sk, buf, {
    nonblock: (flags & MSG_DONTWAIT) !== 0, peek: (flags & MSG_PEEK) !== 0, waitall: (flags & MSG_WAITALL) !== 0,
  });
}

export function* sys_shutdown(p: Process, fd: number, how: number): Sys<0 | Errno> {
  const sk = sockfd_lookup(p, fd);
  if (isErr(sk)) return sk;
  if (how !== SHUT_RD && how !== SHUT_WR && how !== SHUT_RDWR) return EINVAL;
  return tcp_shutdown(sk, how + 1); // SHUT_RD..SHUT_RDWR are RCV_SHUTDOWN..SHUTDOWN_MASK less one
}

function clampBuf(v: number, min: number): number {
  return Math.min(Math.max(v, min), SOCK_BUF_MAX);
}

function setSolSocket(sk: TcpSock, name: number, v: number): 0 | Errno {
  switch (name) {
    case SO_REUSEADDR: sk.reuse = v !== 0; return 0;
    case SO_KEEPALIVE: return setKeepalive(sk, v !== 0);
    case SO_SNDBUF: sk.sndbuf = clampBuf(v, SOCK_MIN_SNDBUF); return 0;
    case SO_RCVBUF: sk.rcvbuf = clampBuf(v, SOCK_MIN_RCVBUF); return 0;
    case SO_RCVTIMEO:
    case SO_SNDTIMEO:
      if (v < 0) return EDOM;
      if (name === SO_RCVTIMEO) sk.rcvtimeo = v;
      else sk.sndtimeo = v;
      return 0;
    default: return ENOPROTOOPT;
  }
}

function setKeepalive(sk: TcpSock, on: boolean): 0 {
  const was = sk.keepalive;
  sk.keepalive = on;
  if (on && !was && sk.state !== 'CLOSED' && sk.state !== 'LISTEN') rearm_keepalive(sk);
  return 0;
}

/** A changed keepalive setting applies at once to a connection (Linux tcp_setsockopt). */
function rearm_keepalive(sk: TcpSock): void {
  const idle = sk.keepidle * 1_000_000;
  tcp_arm_keepalive(sk, Math.max(0, idle - (sk.now() - sk.lastRcv)));
}

function setIpprotoTcp(sk: TcpSock, name: number, v: number): 0 | Errno {
  switch (name) {
    case TCP_NODELAY: sk.nodelay = v !== 0; return 0;
    case TCP_KEEPIDLE:
    case TCP_KEEPINTVL:
      if (v < 1 || v > MAX_TCP_KEEPIDLE) return EINVAL;
      if (name === TCP_KEEPIDLE) sk.keepidle = v;
      else sk.keepintvl = v;
      if (name === TCP_KEEPIDLE && sk.keepalive && sk.state !== 'CLOSED' && sk.state !== 'LISTEN') rearm_keepalive(sk);
      return 0;
    case TCP_KEEPCNT:
      if (v < 1 || v > MAX_TCP_KEEPCNT) return EINVAL;
      sk.keepcnt = v;
      return 0;
    case TCP_SYNCNT:
      if (v < 1 || v > MAX_TCP_SYNCNT) return EINVAL;
      sk.syncnt = v;
      return 0;
    default: return ENOPROTOOPT;
  }
}

/** setsockopt() with an integer value (the options here all take one). */
export function* sys_setsockopt(p: Process, fd: number, level: number, name: number, value: number): Sys<0 | Errno> {
  const sk = sockfd_lookup(p, fd);
  if (isErr(sk)) return sk;
  if (!Number.isSafeInteger(value)) return EINVAL;
  if (level === SOL_SOCKET) return setSolSocket(sk, name, value);
  if (level === IPPROTO_TCP) return setIpprotoTcp(sk, name, value);
  return ENOPROTOOPT;
}

function getSolSocket(sk: TcpSock, name: number): number | Errno {
  switch (name) {
    case SO_REUSEADDR: return sk.reuse ? 1 : 0;
    case SO_KEEPALIVE: return sk.keepalive ? 1 : 0;
    case SO_SNDBUF: return sk.sndbuf;
    case SO_RCVBUF: return sk.rcvbuf;
    case SO_RCVTIMEO: return sk.rcvtimeo;
    case SO_SNDTIMEO: return sk.sndtimeo;
    case SO_TYPE: return SOCK_STREAM;
    case SO_ERROR: {
      const e = sock_error(sk);
      return e === 0 ? 0 : errnoNumber(e);
    }
    default: return ENOPROTOOPT;
  }
}

function getIpprotoTcp(sk: TcpSock, name: number): number | Errno {
  switch (name) {
    case TCP_NODELAY: return sk.nodelay ? 1 : 0;
    case TCP_KEEPIDLE: return sk.keepidle;
    case TCP_KEEPINTVL: return sk.keepintvl;
    case TCP_KEEPCNT: return sk.keepcnt;
    case TCP_SYNCNT: return sk.syncnt;
    default: return ENOPROTOOPT;
  }
}

/** getsockopt(): the option's value (SO_ERROR: the pending error's positive number, cleared). */
export function* sys_getsockopt(p: Process, fd: number, level: number, name: number): Sys<number | Errno> {
  const sk = sockfd_lookup(p, fd);
  if (isErr(sk)) return sk;
  if (level === SOL_SOCKET) return getSolSocket(sk, name);
  if (level === IPPROTO_TCP) return getIpprotoTcp(sk, name);
  return ENOPROTOOPT;
}

/** getsockname(): '*' and port 0 before bind; this host's name once connected. */
export function* sys_getsockname(p: Process, fd: number): Sys<SockAddr | Errno> {
  const sk = sockfd_lookup(p, fd);
  if (isErr(sk)) return sk;
  return { host: sk.rhost !== '' ? p.kernel.hostname : sk.bindHost ?? INADDR_ANY, port: sk.lport };
}

export function* sys_getpeername(p: Process, fd: number): Sys<SockAddr | Errno> {
  const sk = sockfd_lookup(p, fd);
  if (isErr(sk)) return sk;
  if (sk.rhost === '' || sk.state === 'CLOSED' || sk.state === 'SYN_SENT' || sk.state === 'LISTEN') return ENOTCONN;
  return { host: sk.rhost, port: sk.rport };
}

/** The socket's counters and state (Linux's getsockopt TCP_INFO, as a record). */
export function* sys_tcp_info(p: Process, fd: number): Sys<TcpInfo | Errno> {
  const sk = sockfd_lookup(p, fd);
  if (isErr(sk)) return sk;
  return tcp_info(sk);
}
