#!/usr/bin/env python3
"""A unix-socket proxy in front of the engine, for fault tests.

    fault_proxy.py LISTEN_SOCKET ENGINE_SOCKET [--stall-up N] [--stall-down N]
                   [--log FILE]

Forwards every connection. With --stall-up N (--stall-down N), a connection
stops forwarding client-to-engine (engine-to-client) bytes after N of them:
the transfer hangs as on a stuck peer, until the test interrupts kiln or
kills this proxy (the engine then looks dead to kiln). Prints "ready" once
listening. With --log FILE, the request line of every HTTP request a client
sends ("POST /v1.41/containers/create?name=x") is appended to FILE, so a test
can tell what one kiln command asked of the engine without reading the
engine's shared event stream.
"""
import os
import re
import socket
import sys
import threading


REQUEST = re.compile(rb"(?:^|\r\n)((?:GET|HEAD|POST|PUT|DELETE) /\S* HTTP/1\.[01])\r\n")
log_lock = threading.Lock()


def log_requests(log, seen, data):
    """Appends the request lines in DATA (with the tail of the previous chunk
    in SEEN, so a line split across reads is found once)."""
    text = seen[-512:] + data
    start = len(seen[-512:])
    with log_lock:
        for m in REQUEST.finditer(text):
            if m.end() > start:
                log.write(m.group(1).decode("latin-1") + "\n")
        log.flush()
    return text


def pump(src, dst, limit, log=None):
    sent = 0
    seen = b""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            if log is not None:
                seen = log_requests(log, seen, data)
            if limit is not None and sent + len(data) > limit:
                data = data[: max(0, limit - sent)]
                if data:
                    dst.sendall(data)
                threading.Event().wait()  # stall: never forward again
            dst.sendall(data)
            sent += len(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def main():
    args = sys.argv[1:]
    listen_path, engine_path = args[0], args[1]
    up = down = None
    if "--stall-up" in args:
        up = int(args[args.index("--stall-up") + 1])
    if "--stall-down" in args:
        down = int(args[args.index("--stall-down") + 1])
    log = open(args[args.index("--log") + 1], "a") if "--log" in args else None
    if os.path.exists(listen_path):
        os.unlink(listen_path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(listen_path)
    server.listen(16)
    print("ready", flush=True)
    while True:
        client, _ = server.accept()
        engine = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        engine.connect(engine_path)
        for src, dst, limit, lg in ((client, engine, up, log), (engine, client, down, None)):
            threading.Thread(target=pump, args=(src, dst, limit, lg), daemon=True).start()


if __name__ == "__main__":
    main()
