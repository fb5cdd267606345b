"""An upstream that answers every connection with bytes that are not HTTP, then hangs up.

Run as `python garbage_upstream.py PORT`; the gateway must turn this into a 502.
"""

from __future__ import annotations

import asyncio
import sys


async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(65536)
    writer.write(b"SMTP READY\r\nthis is not http\r\n\r\n")
    await writer.drain()
    writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(answer, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
