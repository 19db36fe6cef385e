#!/usr/bin/env python3
"""Run conformance cases against the real Linux kernel and print their answers.

Usage (as root): linux_oracle.py errno-cases.json > linux-answers.json
                 linux_oracle.py limits-cases.json > linux-limits.json
Each case runs in a forked child, chrooted in a fresh scratch directory, so absolute paths mean the
same as in the model. `as UID GID` switches the child's credentials (groups [GID]). The answer is
`ok` or the errno name of the test step, or what the step reports (`wrote N`, `mode 0755`,
`size N`, `len N`; see steps.ts). The scratch directory is under /tmp, except for a case with a
`blockSize`: that one runs on a loop-mounted ext2 made with the model's features and that block
size (one image per block size, checked with e2fsck -fn when its cases are done).
"""
import errno, json, os, platform, re, resource, shutil, stat, subprocess, sys, tempfile

FLAGS = {n: getattr(os, n) for n in ('O_RDONLY', 'O_WRONLY', 'O_RDWR', 'O_CREAT', 'O_EXCL', 'O_TRUNC', 'O_APPEND', 'O_DIRECTORY', 'O_NOFOLLOW')}
TYPES = {'S_IFIFO': stat.S_IFIFO, 'S_IFCHR': stat.S_IFCHR, 'S_IFBLK': stat.S_IFBLK, 'S_IFREG': stat.S_IFREG, 'S_IFDIR': stat.S_IFDIR}
WHENCE = {'SEEK_SET': 0, 'SEEK_CUR': 1, 'SEEK_END': 2}

def expand(p):
    if p == '/NAME256': return '/' + 'n' * 256
    if p == '/NAME255': return '/' + 'n' * 255
    if p == 'PATH4096': return '/' + 'a/' * 2047 + 'a'
    m = re.fullmatch(r'<(.)\*([0-9]+)>', str(p))
    if m: return m.group(1) * int(m.group(2))
    return p

class State:
    fds = []

class Answer(Exception):
    """A step that reports something (its answer) rather than just succeeding."""

def run(step, st):
    op, *a = step
    if op == 'writefile':
        fd = os.open(a[0], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644); os.write(fd, a[1].encode()); os.close(fd)
    elif op == 'mkdir': os.mkdir(expand(a[0]), a[1])
    elif op == 'rmdir': os.rmdir(a[0])
    elif op == 'unlink': os.unlink(a[0])
    elif op == 'rename': os.rename(a[0], a[1])
    elif op == 'link': os.link(a[0], a[1], follow_symlinks=False)
    elif op == 'symlink': os.symlink(expand(a[0]), expand(a[1]))
    elif op == 'readlink': os.readlink(a[0])
    elif op == 'readlinklen': raise Answer(f'len {len(os.readlink(a[0]))}')
    elif op == 'mode': raise Answer(f'mode {stat.S_IMODE(os.lstat(a[0]).st_mode):04o}')
    elif op == 'size': raise Answer(f'size {os.lstat(a[0]).st_size}')
    elif op == 'chain':
        prev = a[0]
        for i in range(1, a[1] + 1):
            os.symlink(prev, f'/l{i}'); prev = f'/l{i}'
    elif op == 'open':
        flags = 0
        for f in a[1]: flags |= FLAGS[f]
        st.fds.append(os.open(expand(a[0]), flags, a[2] if len(a) > 2 else 0o666))
    elif op == 'close': os.close(st.fds[-1])
    elif op == 'read': os.read(st.fds[-1], a[0])
    elif op == 'write': os.write(st.fds[-1], a[0].encode())
    elif op == 'pread': os.pread(st.fds[-1], a[0], a[1])
    elif op == 'pwrite': raise Answer(f'wrote {os.pwrite(st.fds[-1], expand(a[0]).encode(), a[1])}')
    elif op == 'lseek': os.lseek(st.fds[-1], a[0], WHENCE.get(a[1], a[1]) if isinstance(a[1], str) else a[1])
    elif op == 'truncate': os.truncate(a[0], a[1])
    elif op == 'ftruncate': os.ftruncate(st.fds[-1], a[0])
    elif op == 'stat': os.stat(expand(a[0]))
    elif op == 'lstat': os.lstat(a[0])
    elif op == 'fstatfd': os.fstat(a[0])
    elif op == 'chmod': os.chmod(a[0], a[1])
    elif op == 'chown': os.chown(a[0], a[1], a[2])
    elif op == 'utimes': os.utime(a[0], None if a[1] is None else (a[1][0], a[1][1]))
    elif op == 'access':
        if not os.access(a[0], a[1]) if a[1] <= 7 else True:
            raise OSError(errno.EACCES if a[1] <= 7 else errno.EINVAL, 'access')
    elif op == 'mknod':
        t = TYPES[a[1]] if isinstance(a[1], str) else a[1]
        os.mknod(a[0], t | a[2], os.makedev(a[3], a[4]))
    elif op == 'chdir': os.chdir(a[0])
    elif op == 'ioctl':
        import fcntl
        fcntl.ioctl(st.fds[-1], a[0], b'\0' * 64)
    elif op == 'as':
        os.setgroups([a[1]]); os.setgid(a[1]); os.setuid(a[0])
    elif op == 'setmaxfiles':
        # fds 0-3 are in use here (stdio and the result pipe); allow a[0] more.
        resource.setrlimit(resource.RLIMIT_NOFILE, (4 + a[0], 4 + a[0]))
    else:
        raise SystemExit(f'unknown step {op}')

def one(case, base='/tmp'):
    scratch = tempfile.mkdtemp(prefix='izo-errno-', dir=base)
    os.chmod(scratch, 0o755)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.dup2(w, 3)
        os.closerange(4, 1024)
        os.chroot(scratch); os.chdir('/'); os.umask(0o022)
        st = State()
        try:
            for s in case.get('setup', []):
                try:
                    run(s, st)
                except Answer:
                    pass
        except OSError as e:
            os.write(3, f'SETUP {errno.errorcode.get(e.errno)}'.encode()); os._exit(0)
        try:
            run(case['test'], st); ans = 'ok'
        except Answer as a:
            ans = str(a)
        except OSError as e:
            ans = errno.errorcode.get(e.errno, f'E?{e.errno}')
        os.write(3, ans.encode()); os._exit(0)
    os.close(w)
    data = b''
    while True:
        c = os.read(r, 4096)
        if not c: break
        data += c
    os.close(r); os.waitpid(pid, 0)
    shutil.rmtree(scratch, ignore_errors=True)
    return data.decode()

MKE2FS = ['mke2fs', '-q', '-t', 'ext2', '-O', '^dir_index,^ext_attr,^resize_inode', '-I', '128']

def on_image(bs, cases):
    """Run `cases` on a fresh loop-mounted ext2 with `bs`-byte blocks; (answers, e2fsck verdict)."""
    work = tempfile.mkdtemp(prefix='izo-oracle-')
    img, mnt = os.path.join(work, 'fs.img'), os.path.join(work, 'mnt')
    subprocess.run(['truncate', '-s', '64M', img], check=True)
    subprocess.run(MKE2FS + ['-b', str(bs), '-F', img], check=True, capture_output=True)
    os.mkdir(mnt)
    subprocess.run(['mount', '-o', 'loop', '-t', 'ext2', img, mnt], check=True)
    try:
        answers = {c['name']: one(c, mnt) for c in cases}
    finally:
        subprocess.run(['umount', mnt], check=True)
    fsck = subprocess.run(['e2fsck', '-fn', img], capture_output=True, text=True)
    shutil.rmtree(work, ignore_errors=True)
    return answers, 'clean' if fsck.returncode == 0 else f'e2fsck exit {fsck.returncode}: {fsck.stdout}'

def main():
    cases = json.load(open(sys.argv[1]))
    plain = [c for c in cases if 'blockSize' not in c]
    sizes = sorted({c['blockSize'] for c in cases if 'blockSize' in c})
    answers = {c['name']: one(c) for c in plain}
    out = {'kernel': platform.release(), 'answers': answers}
    if plain:
        out['filesystem'] = subprocess.run(['stat', '-f', '-c', '%T', '/tmp'], capture_output=True, text=True).stdout.strip()
    if sizes:
        out['images'] = ' '.join(MKE2FS[1:]) + ' -b BS, mounted -t ext2 (loop)'
        out['e2fsck'] = {}
        for bs in sizes:
            got, verdict = on_image(bs, [c for c in cases if c.get('blockSize') == bs])
            answers.update(got)
            out['e2fsck'][str(bs)] = verdict
    json.dump(out, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write('\n')

main()
