"""A real TCP listener on 127.0.0.1 standing for the outside world in the network tests.

It answers every connection with `hello` and counts them, so a test can tell "no connection
was made" (the sandbox's empty network) from "connected, then failed". `probe` is the shell
command a sandboxed tool runs to reach it: it prints `got hello` when it did.
"""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

GREETING = b"hello"


class Listener:
    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        # accept() is woken every 0.2 s to see `_stop`: closing the socket does not wake it.
        self.sock.settimeout(0.2)
        self.port: int = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:  # the 0.2 s timeout, or the socket closed
                continue
            with conn:
                self.accepted += 1  # before the greeting: a client that read it sees the count
                conn.sendall(GREETING)

    def probe(self) -> str:
        """A shell command connecting to the listener: prints `got hello`, or fails."""
        code = (
            f"import socket; s = socket.create_connection(('127.0.0.1', {self.port}), 3); "
            f"print('got', s.recv({len(GREETING)}).decode())"
        )
        return f'{sys.executable} -c "{code}"'

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@contextmanager
def listening() -> Iterator[Listener]:
    served = Listener()
    try:
        yield served
    finally:
        served.close()
