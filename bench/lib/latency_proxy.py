"""A TCP proxy on 127.0.0.1 that adds network latency, for benchmarks.

    python3 latency_proxy.py UPSTREAM_PORT RTT_MS PORT_FILE

Listens on a free loopback port (written to PORT_FILE once listening)
and forwards every connection to 127.0.0.1:UPSTREAM_PORT, holding each
chunk back RTT_MS / 2 milliseconds in each direction, in order: a
request then waits one round trip more than on loopback, as it would
between a client and a cluster on another network. Bandwidth is not
limited. Runs until killed.
"""
import asyncio
import os
import sys


async def pump(reader, writer, delay):
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def deliver():
        while True:
            at, data = await queue.get()
            wait = at - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()

    sender = asyncio.ensure_future(deliver())
    try:
        while True:
            data = await reader.read(65536)
            await queue.put((loop.time() + delay, data))
            if not data:
                break
        await sender
    except (ConnectionError, OSError):
        sender.cancel()
    finally:
        writer.close()


async def serve(upstream_port, delay, port_file):
    async def handle(client_reader, client_writer):
        try:
            up_reader, up_writer = await asyncio.open_connection(
                "127.0.0.1", upstream_port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pump(client_reader, up_writer, delay),
                             pump(up_reader, client_writer, delay),
                             return_exceptions=True)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    with open(port_file + ".tmp", "w") as f:
        f.write("%d\n" % port)
    os.rename(port_file + ".tmp", port_file)
    async with server:
        await server.serve_forever()


def main():
    upstream_port, rtt_ms, port_file = (int(sys.argv[1]), float(sys.argv[2]),
                                        sys.argv[3])
    asyncio.run(serve(upstream_port, rtt_ms / 2000.0, port_file))


if __name__ == "__main__":
    main()
