"""A tiny TCP proxy on 127.0.0.1 for the lake tests: put it between DuckDB and PostgreSQL,
then `cut()` it to lose the server mid-write (every connection dropped, new ones refused).

`on(patterns, action, forward)` runs `action` when the client has sent each of `patterns` in
turn (e.g. DuckLake's commit: the statement inserting the snapshot, then COMMIT), before or
after that last message reaches the server: a test can stop a job at an exact point of its commit.
"""

from __future__ import annotations

import socket
import threading


class TcpProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.bytes = 0          # bytes relayed either way: tells that a client is talking
        self._sockets: list[socket.socket] = []
        self._clients: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._cut = False
        self._frozen = False
        self._trigger: list | None = None  # [patterns left, action, forward, the connection]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # cut: the listener is closed
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._cut:
                    client.close()
                    server.close()
                    return
                self._sockets += [client, server]
                self._clients.add(client)
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def on(self, patterns: list[bytes], action, *, forward: bool) -> None:
        """Run `action()` once one client connection has sent each of `patterns` in turn; the message
        holding the last one reaches the server first when `forward`, else never."""
        self._trigger = [list(patterns), action, forward, None]

    def _fire(self, src: socket.socket, seen: bytes):
        """(send this client message on?, the action to run after it, or None)."""
        with self._lock:
            trigger = self._trigger
            if trigger is None or trigger[3] not in (None, src) or trigger[0][0] not in seen:
                return True, None
            trigger[3] = src  # the rest must come on the same connection (one transaction)
            trigger[0].pop(0)
            if trigger[0]:
                return True, None
            self._trigger = None
            self._frozen = True  # from now on the client hears nothing (not even the answer to this)
        return trigger[2], trigger[1]

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        from_client, tail = src in self._clients, b""
        try:
            while chunk := src.recv(65536):
                self.bytes += len(chunk)
                send, action = self._fire(src, tail + chunk) if from_client else (not self._frozen, None)
                tail = chunk[-64:]  # a pattern split across two reads is still seen
                if send:
                    dst.sendall(chunk)
                if action is not None:
                    action()  # it kills the client or cuts the proxy: nothing more is relayed
        except OSError:
            pass
        finally:
            for s in (src, dst):
                _close(s)

    def cut(self) -> None:
        """Drop every connection at once and refuse new ones, as a server that went away."""
        with self._lock:
            self._cut = True
            sockets, self._sockets = self._sockets, []
        _close(self.listener)
        for s in sockets:
            _close(s)

    def __enter__(self) -> "TcpProxy":
        return self

    def __exit__(self, *exc) -> None:
        self.cut()


def _close(s: socket.socket) -> None:
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    s.close()
