"""A free TCP port on the loopback interface, for servers started by tests and benchmarks."""

from __future__ import annotations

import socket
from pathlib import Path


def free_port() -> int:
    """A port that nothing listens on at 127.0.0.1 now (the OS picks it; another process may take it later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening_addresses(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on `port`, from /proc/net (Linux); empty elsewhere."""
    found = set()
    for name in ("tcp", "tcp6"):
        table = Path("/proc/net") / name
        if not table.is_file():
            continue
        for line in table.read_text().splitlines()[1:]:
            cols = line.split()
            address, _, hexport = cols[1].partition(":")
            if cols[3] == "0A" and int(hexport, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found
