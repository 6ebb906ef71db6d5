"""Run the fake OpenAI server (``fake_server.py``) in its own process.

Benchmarks need this to be fair — the client's event loop must not also be the server's —
and the kill-and-resume test needs a server that outlives the client it kills.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

HERE = Path(__file__).resolve().parent


class FakeServerProcess:
    """``with FakeServerProcess(latency=0.3) as srv: ... srv.base_url ... srv.stats()``."""

    def __init__(
        self,
        *,
        latency: float = 0.0,
        fault_rate: float = 0.0,
        faults: str = "",
        prime: list[Path] | None = None,
    ) -> None:
        cmd = [sys.executable, str(HERE / "fake_server.py"), "--port", "0",
               "--latency", str(latency), "--fault-rate", str(fault_rate)]  # fmt: skip
        if faults:
            cmd += ["--faults", faults]
        if prime:
            cmd += ["--prime", *map(str, prime)]
        env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # blocks until the server is listening
        if "http://" not in line:
            self.proc.kill()
            raise RuntimeError(f"fake server did not start: {line!r}")
        self.base_url = line.strip().split()[-1]

    def stats(self) -> dict[str, Any]:
        """The server's counters (``requests``, ``answered``, ``server_time_s``...)."""
        url = self.base_url.removesuffix("/v1") + "/stats"
        with urllib.request.urlopen(url, timeout=10) as resp:
            data: dict[str, Any] = json.load(resp)
        return data

    def requests(self) -> int:
        return int(self.stats().get("requests", 0))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def __enter__(self) -> FakeServerProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
