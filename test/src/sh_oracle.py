#!/usr/bin/env python3
"""The Linux oracle for the command language (src/sh.ts).

Usage: sh_oracle.py MOUNTPOINT < script
Runs each command of the script against the real kernel, chrooted at MOUNTPOINT (so absolute paths
and symlink targets mean the same as in the model), each command in a forked child with the
current credentials (as UID:GID switches them; umask 022), and prints the --status form: one line
per command, `ok` or the errno name, with JSON output for cat/ls/stat. Must run as root.
"""
import errno, json, os, shlex, stat, sys

def writeb_bytes(size, seed):
    out = bytearray(size)
    x = (seed & 0xffffffff) or 0x9e3779b9
    for i in range(0, size, 4):
        x ^= (x << 13) & 0xffffffff
        x ^= x >> 17
        x ^= (x << 5) & 0xffffffff
        for j in range(4):
            if i + j < size:
                out[i + j] = (x >> (8 * j)) & 0xff
    return bytes(out)

def typename(m):
    for test, name in ((stat.S_ISREG, 'file'), (stat.S_ISDIR, 'dir'), (stat.S_ISLNK, 'symlink'),
                       (stat.S_ISFIFO, 'fifo'), (stat.S_ISCHR, 'chr'), (stat.S_ISBLK, 'blk'), (stat.S_ISSOCK, 'sock')):
        if test(m):
            return name
    return 'unknown'

def write_file(path, data, flags):
    fd = os.open(path, flags, 0o666)
    try:
        if data:
            os.write(fd, data)
    finally:
        os.close(fd)

def run(name, args):
    b = lambda s: s.encode('utf-8')
    if name == 'write': write_file(b(args[0]), b(args[1]), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    elif name == 'append': write_file(b(args[0]), b(args[1]), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    elif name == 'writeb':
        seed = int(args[2]) if len(args) > 2 else 1
        write_file(b(args[0]), writeb_bytes(int(args[1]), seed), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    elif name == 'pwrite':
        fd = os.open(b(args[0]), os.O_WRONLY | os.O_CREAT, 0o666)
        try: os.pwrite(fd, b(args[2]), int(args[1]))
        finally: os.close(fd)
    elif name == 'mkdir': os.mkdir(b(args[0]), 0o777)
    elif name == 'rm': os.unlink(b(args[0]))
    elif name == 'rmdir': os.rmdir(b(args[0]))
    elif name == 'mv': os.rename(b(args[0]), b(args[1]))
    elif name == 'ln': os.link(b(args[0]), b(args[1]), follow_symlinks=False)
    elif name == 'symlink': os.symlink(b(args[0]), b(args[1]))
    elif name == 'mkfifo': os.mknod(b(args[0]), stat.S_IFIFO | 0o666)
    elif name == 'chmod': os.chmod(b(args[1]), int(args[0], 8))
    elif name == 'chown':
        u, g = args[0].split(':'); os.chown(b(args[1]), int(u), int(g))
    elif name == 'truncate': os.truncate(b(args[0]), int(args[1]))
    elif name == 'cat':
        fd = os.open(b(args[0]), os.O_RDONLY)
        chunks = []
        try:
            while True:
                c = os.read(fd, 65536)
                if not c: break
                chunks.append(c)
        finally: os.close(fd)
        return b''.join(chunks).decode('latin-1')
    elif name == 'ls':
        st = os.lstat(b(args[0]))
        if not stat.S_ISDIR(st.st_mode): return [args[0].encode('utf-8').decode('latin-1')]
        return sorted(n.decode('latin-1') for n in os.listdir(b(args[0])))
    elif name == 'stat':
        st = os.lstat(b(args[0]))
        return {'type': typename(st.st_mode), 'mode': '0' + format(st.st_mode & 0o7777, 'o').rjust(3, '0'),
                'nlink': st.st_nlink, 'size': st.st_size, 'uid': st.st_uid, 'gid': st.st_gid}
    elif name == 'fsync':
        fd = os.open(b(args[0]), os.O_RDONLY)
        try: os.fsync(fd)
        finally: os.close(fd)
    elif name == 'sync': os.sync()
    else: raise SystemExit(f'unknown command {name}')
    return None

def in_child(creds, name, args):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            uid, gid = creds
            os.setgroups([gid]); os.setgid(gid); os.setuid(uid); os.umask(0o022)
            out = run(name, args)
            line = 'ok' if out is None else 'ok ' + json.dumps(out, ensure_ascii=False, separators=(',', ':'))
        except OSError as e:
            line = errno.errorcode.get(e.errno, f'E?{e.errno}')
        os.write(w, (line + '\n').encode('utf-8'))
        os._exit(0)
    os.close(w)
    data = b''
    while True:
        c = os.read(r, 65536)
        if not c: break
        data += c
    os.close(r)
    os.waitpid(pid, 0)
    return data.decode('utf-8')

def main():
    mnt = sys.argv[1]
    script = sys.stdin.read()
    os.chroot(mnt)
    os.chdir('/')
    creds = (0, 0)
    out = []
    for raw in script.split('\n'):
        words = shlex.split(raw, comments=True, posix=True)
        if not words: continue
        name, args = words[0], words[1:]
        if name == 'as':
            u, g = args[0].split(':'); creds = (int(u), int(g)); out.append('ok\n'); continue
        out.append(in_child(creds, name, args))
    sys.stdout.write(''.join(out))

main()
