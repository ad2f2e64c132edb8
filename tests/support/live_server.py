"""A real ``outreach serve`` process on a free loopback port, for end-to-end tests."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

_RUNNING = re.compile(r"outreach is running at (http://\S+?)/? ")


class LiveServer:
    """``outreach serve --port 0`` in a subprocess; :attr:`url` once it listens."""

    def __init__(self, data_dir: Path, config: Path | None = None, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.config = config
        self.env = {**os.environ, **(env or {})}
        self.url = ""
        self.lines: list[str] = []
        self._process: subprocess.Popen[str] | None = None

    @property
    def pid(self) -> int:
        """The server process's id."""
        assert self._process is not None
        return self._process.pid

    def start(self, timeout: float = 30.0) -> LiveServer:
        """Start the server and wait until it says where it listens."""
        args = [sys.executable, "-m", "outreach.web.cli", "--data-dir", str(self.data_dir)]
        if self.config is not None:
            args += ["--config", str(self.config)]
        self._process = subprocess.Popen(
            [*args, "serve", "--port", "0"],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            env=self.env,
        )
        found: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(found,), daemon=True).start()
        try:
            url = found.get(timeout=timeout)
        except queue.Empty:
            self.stop()
            raise RuntimeError("outreach serve did not start:\n" + "".join(self.lines)) from None
        self.url = url.replace("localhost", "127.0.0.1").rstrip("/")
        return self

    def _read(self, found: queue.Queue[str]) -> None:
        assert self._process is not None
        assert self._process.stderr is not None
        for line in self._process.stderr:
            self.lines.append(line)
            match = _RUNNING.search(line + " ")
            if match:
                found.put(match.group(1))

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the server the way Ctrl+C does; kill it if it does not stop in time."""
        if self._process is None or self._process.poll() is not None:
            return
        self._process.send_signal(signal.SIGINT)
        deadline = time.monotonic() + timeout
        while self._process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
