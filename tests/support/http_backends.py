"""Small HTTP backends on loopback, for the haproxy tests and benchmarks: one process, many ports.

    python tests/support/http_backends.py CONTROL_DIR NAME [NAME ...]

Each NAME gets a free port on 127.0.0.1; once all listen, one line per backend, "NAME PORT", then
"ready" is printed. Every path answers 200 with the backend's NAME as the body (so a client sees
who answered), except /status, which answers 500 while the file CONTROL_DIR/NAME.down exists: a
test fails a status check by creating that file, and heals it by removing it. HTTP/1.1 keep-alive.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path


async def serve(name: str, control: Path, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            request = await reader.readline()
            if not request:
                return
            parts = request.decode("latin-1").split()
            close = len(parts) < 3 or parts[2] != "HTTP/1.1"
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                key, _, value = line.decode("latin-1").partition(":")
                if key.strip().lower() == "connection" and value.strip().lower() == "close":
                    close = True
                if key.strip().lower() == "content-length":
                    length = int(value.strip() or 0)
            if length:
                await reader.readexactly(length)
            path = parts[1] if len(parts) > 1 else "/"
            failing = path.startswith("/status") and (control / f"{name}.down").exists()
            status, body = ("500 Internal Server Error", b"failing\n") if failing else ("200 OK", name.encode())
            writer.write(f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\nContent-Length: {len(body)}\r\n"
                         f"{'Connection: close' if close else 'Connection: keep-alive'}\r\n\r\n".encode() + body)
            await writer.drain()
            if close:
                return
    except (ConnectionError, asyncio.IncompleteReadError, ValueError):
        return
    finally:
        writer.close()


async def main(control: Path, names: list[str]) -> None:
    servers = []
    for name in names:
        server = await asyncio.start_server(lambda r, w, name=name: serve(name, control, r, w), "127.0.0.1", 0,
                                            backlog=1024)
        servers.append(server)
        print(name, server.sockets[0].getsockname()[1])
    print("ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    for server in servers:
        server.close()


if __name__ == "__main__":
    os.makedirs(sys.argv[1], exist_ok=True)
    asyncio.run(main(Path(sys.argv[1]), sys.argv[2:]))
