"""Runs `kiln init DIR` in a pseudo-terminal and answers its questions:
each argument after DIR is "PROMPT=ANSWER" (waits until PROMPT appears in
the output, then types ANSWER and Enter) or "TEXT" (only waits for it). Prints everything kiln wrote and
exits with kiln's exit code. Used by init.sh; SUDO_* come from there."""
import os
import pty
import select
import sys
import time

kiln, target, pairs = sys.argv[1], sys.argv[2], sys.argv[3:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(kiln, [kiln, "init", target])
seen = b""


def read_until(want, limit=10.0):
    global seen
    end = time.time() + limit
    while time.time() < end:
        if want.encode() in seen:
            seen = seen[seen.index(want.encode()) + len(want):]
            return True
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                return False
            if not chunk:
                return False
            sys.stdout.write(chunk.decode(errors="replace"))
            seen += chunk
    return False


for pair in pairs:
    prompt, _, answer = pair.partition("=")
    if not read_until(prompt):
        sys.stderr.write("prompt %r never came\n" % prompt)
        os.kill(pid, 9)
        sys.exit(99)
    if "=" in pair:
        os.write(fd, answer.encode() + b"\n")
while True:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    sys.stdout.write(chunk.decode(errors="replace"))
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
