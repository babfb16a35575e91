#!/usr/bin/env python3
"""A unix-socket proxy in front of the engine, for fault tests.

    fault_proxy.py LISTEN_SOCKET ENGINE_SOCKET [--stall-up N] [--stall-down N]

Forwards every connection. With --stall-up N (--stall-down N), a connection
stops forwarding client-to-engine (engine-to-client) bytes after N of them:
the transfer hangs as on a stuck peer, until the test interrupts kiln or
kills this proxy (the engine then looks dead to kiln). Prints "ready" once
listening.
"""
import os
import socket
import sys
import threading


def pump(src, dst, limit):
    sent = 0
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
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
        for src, dst, limit in ((client, engine, up), (engine, client, down)):
            threading.Thread(target=pump, args=(src, dst, limit), daemon=True).start()


if __name__ == "__main__":
    main()
