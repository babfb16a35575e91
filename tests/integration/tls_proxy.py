#!/usr/bin/env python3
"""A TLS endpoint on loopback in front of the engine's unix socket, as
dockerd's own tcp://:2376 with --tlsverify would be.

    tls_proxy.py ENGINE_SOCKET CA SERVER_CERT SERVER_KEY [--log FILE]

Listens on 127.0.0.1 at a free port and prints "ready PORT". Every
connection must complete a TLS handshake with a client certificate signed by
CA (else it is closed); its bytes then go to ENGINE_SOCKET and back. The
client's end of input (TLS close_notify) half-closes the engine side only (so the output of an
exec whose stdin ended still comes back). With --log FILE, every HTTP request
line a client sends is appended to FILE ("GET /v1.41/_ping HTTP/1.1"), so a
test can tell that a command went through this endpoint.
"""
import re
import select
import socket
import ssl
import sys
import threading

REQUEST = re.compile(rb"(?:^|\r\n)((?:GET|HEAD|POST|PUT|DELETE) /\S* HTTP/1\.[01])\r\n")
log_lock = threading.Lock()


def log_requests(log, data):
    if log is None:
        return
    with log_lock:
        for m in REQUEST.finditer(data):
            log.write(m.group(1).decode("latin-1") + "\n")
        log.flush()


def relay(client, engine, log):
    """One thread per connection: no two threads ever use one SSL object."""
    up_open = True
    try:
        while True:
            if up_open and client.pending():
                ready = [client]
            else:
                ready, _, _ = select.select([client, engine] if up_open else [engine], [], [])
            if up_open and client in ready:
                data = client.recv(65536)
                if not data:
                    up_open = False
                    engine.shutdown(socket.SHUT_WR)
                else:
                    log_requests(log, data)
                    engine.sendall(data)
            if engine in ready:
                data = engine.recv(65536)
                if not data:
                    break
                client.sendall(data)
    except (OSError, ssl.SSLError):
        pass
    finally:
        for s in (client, engine):
            try:
                s.close()
            except OSError:
                pass


def serve(context, conn, engine_path, log):
    try:
        conn.settimeout(20)
        client = context.wrap_socket(conn, server_side=True)
        client.settimeout(None)
    except (OSError, ssl.SSLError):
        conn.close()  # no client certificate, an unknown CA, plain HTTP
        return
    engine = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        engine.connect(engine_path)
    except OSError:
        client.close()
        return
    relay(client, engine, log)


def main():
    args = sys.argv[1:]
    engine_path, ca, cert, key = args[:4]
    log = open(args[args.index("--log") + 1], "a") if "--log" in args else None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.load_verify_locations(ca)
    context.verify_mode = ssl.CERT_REQUIRED
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(32)
    print("ready %d" % server.getsockname()[1], flush=True)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve, args=(context, conn, engine_path, log), daemon=True).start()


if __name__ == "__main__":
    main()
