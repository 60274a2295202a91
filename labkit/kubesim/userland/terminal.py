"""The terminal side of an interactive exec (``kubectl exec -ti``, ``kubectl run -it``): the line
discipline a real pty gives a shell (echo, CR -> LF in, LF -> CRLF out, backspace, ^C, ^D, ^U,
arrow keys ignored), and a reader thread so ^C can interrupt a running ``sleep``.

Why here: with ``tty=True`` kubectl puts the learner's terminal in raw mode and sends keystrokes
one by one; nothing would echo them or end a line without this.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

Write = Callable[[bytes], None]


def crlf(write: Write) -> Write:
    """A writer that turns LF into CRLF (the pty's ``onlcr``)."""
    def out(data: bytes) -> None:
        if data:
            write(data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    return out


class Input:
    """Buffered reading of a ``Stdin`` (any object with ``read(n) -> bytes``, b"" at EOF)."""

    def __init__(self, stdin: Any = None, data: bytes = b""):
        self.stdin = stdin
        self.buf = data
        self.eof = stdin is None

    def _fill(self) -> bool:
        if self.eof:
            return False
        try:
            chunk = self.stdin.read(4096)
        except Exception:
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def read(self, n: int = -1) -> bytes:
        if n < 0:
            while self._fill():
                pass
            data, self.buf = self.buf, b""
            return data
        if not self.buf:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def readline(self) -> bytes:
        while b"\n" not in self.buf and self._fill():
            pass
        if b"\n" in self.buf:
            i = self.buf.index(b"\n") + 1
            line, self.buf = self.buf[:i], self.buf[i:]
            return line
        data, self.buf = self.buf, b""
        return data


class Terminal(Input):
    """Keystrokes from the client, edited into lines; ``interrupt`` is set by ^C while a command runs."""

    def __init__(self, stdin: Any, write: Write):
        super().__init__(None)
        self.eof = False
        self.write = write
        self.keys: "queue.Queue[bytes]" = queue.Queue()
        self.interrupt = threading.Event()
        self.busy = False
        self.pending = b""
        thread = threading.Thread(target=self._pump, args=(stdin,), daemon=True, name="kubesim-tty")
        thread.start()

    def _pump(self, stdin: Any) -> None:
        while True:
            try:
                chunk = stdin.read(1024) if stdin is not None else b""
            except Exception:
                chunk = b""
            if not chunk:
                self.keys.put(b"")
                return
            if self.busy and b"\x03" in chunk:
                self.interrupt.set()
                chunk = chunk.replace(b"\x03", b"")
                self.write(b"^C")
                self.keys.put(b"\x03")      # wakes a command that reads the terminal (cat)
            if chunk:
                self.keys.put(chunk)

    def settle(self) -> None:
        """After a command: forget a ^C that interrupted it (it must not reach the next prompt)."""
        self.interrupt.clear()
        kept = []
        while True:
            try:
                item = self.keys.get_nowait()
            except queue.Empty:
                break
            if item != b"\x03":
                kept.append(item)
        for item in kept:
            self.keys.put(item)

    def _key(self) -> bytes:
        if not self.pending:
            chunk = self.keys.get()
            if not chunk:
                self.eof = True
                return b""
            self.pending = chunk
        key, self.pending = self.pending[:1], self.pending[1:]
        return key

    def readline(self, prompt: bytes = b"") -> bytes:  # type: ignore[override]
        """One edited line (with its LF), b"" at ^D on an empty line or when the client went away."""
        if prompt:
            self.write(prompt)
        line = bytearray()
        while True:
            key = self._key()
            if not key:
                return b""
            if key in (b"\r", b"\n"):
                self.write(b"\r\n")
                return bytes(line) + b"\n"
            if key == b"\x03":
                self.write(b"^C\r\n")
                return b"\x03"
            if key == b"\x04":
                if not line:
                    return b""
                continue
            if key in (b"\x7f", b"\x08"):
                if line:
                    line.pop()
                    self.write(b"\b \b")
                continue
            if key == b"\x15":
                self.write(b"\b \b" * len(line))
                line.clear()
                continue
            if key == b"\x1b":           # an escape sequence (arrows): swallow ESC [ X
                nxt = self._key()
                if nxt == b"[":
                    while True:
                        k = self._key()
                        if not k or k.isalpha() or k == b"~":
                            break
                continue
            if key < b" " and key != b"\t":
                continue
            line += key
            self.write(key)

    def read(self, n: int = -1) -> bytes:
        """Raw reading for a command (``cat`` typed at the prompt): edited lines until ^D."""
        if self.buf:
            data, self.buf = (self.buf, b"") if n < 0 else (self.buf[:n], self.buf[n:])
            return data
        line = self.readline()
        if line == b"\x03":
            self.interrupt.set()
            return b""
        if n < 0 or len(line) <= n:
            return line
        self.buf = line[n:]
        return line[:n]
