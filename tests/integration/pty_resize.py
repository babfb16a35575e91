"""Runs `kiln container shell NAME` in a pseudo-terminal, resizes the
terminal, and checks that the shell inside sees each size (stty size).
Usage: pty_resize.py KILN NAME; exits 0 when every size was seen. Used by
shell_resize.sh; the environment (SUDO_*, NS) comes from there."""
import fcntl
import os
import pty
import select
import struct
import sys
import termios
import time

kiln, name = sys.argv[1], sys.argv[2]
def setsize(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
pid, fd = pty.fork()
if pid == 0:
    os.execv(kiln, [kiln, "--namespace", os.environ["NS"], "container", "shell", name])
setsize(fd, 30, 100)
def talk(cmd, want, limit=10):
    os.write(fd, cmd.encode())
    buf, end = b"", time.time() + limit
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try: buf += os.read(fd, 4096)
            except OSError: break
            if want.encode() in buf: return True
    sys.stderr.write("got: %r\n" % buf[-300:])
    return False
ok = talk("stty size\n", "30 100")
setsize(fd, 45, 132)
time.sleep(0.5)
ok = talk("stty size\n", "45 132") and ok
os.write(fd, b"exit\n")
os.waitpid(pid, 0)
print("resize followed" if ok else "resize NOT followed")
sys.exit(0 if ok else 1)
