/**
 * syscalls.ts: the system call table: every call a simulated process can make, in one place.
 *
 * Layer: kernel VFS, the top of the kernel. Interface: each `sys_*` takes the calling Process first
 * (Linux's `current`) and returns a Sys (run it with `yield*` from a task, or with runSync from a
 * tool), whose value is the result or a negative Errno. Paths and names are byte strings.
 */
export { sys_clone } from './fork.ts';
export { sys_futex_wait, sys_futex_wake } from './futex.ts';
export { sys_getdents } from './readdir.ts';
export { sys_ioctl } from './ioctl.ts';
export { sys_link, sys_mkdir, sys_mknod, sys_rename, sys_rmdir, sys_symlink, sys_unlink } from './namei.ts';
export {
  sys_access, sys_chdir, sys_chmod, sys_chroot, sys_chown, sys_close, sys_creat, sys_fchmod, sys_ftruncate, sys_getcwd,
  sys_lchown, sys_open, sys_truncate, sys_umask, sys_utimes,
} from './open.ts';
export { sys_fdatasync, sys_fsync, sys_lseek, sys_pread, sys_pwrite, sys_read, sys_write } from './read_write.ts';
export { sys_fstat, sys_lstat, sys_readlink, sys_stat, sys_statfs } from './stat.ts';
export { sys_kill, sys_sigpending, sys_sigtake } from './signal.ts';
export {
  sys_accept, sys_bind, sys_connect, sys_getpeername, sys_getsockname, sys_getsockopt, sys_listen, sys_recv, sys_send,
  sys_setsockopt, sys_shutdown, sys_socket, sys_tcp_info,
} from './socket.ts';
export { sys_trace } from './syslog.ts';
export { sys_clock_gettime } from './time.ts';
export { sys_mount, sys_sync, sys_umount } from './super.ts';
