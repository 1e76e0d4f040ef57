"""The echo benchmark's Python `websockets` client (asyncio), for the compressed cases.

Python `websockets` (its default permessage-deflate settings) runs the "deflate" cases of
`cargo xtask bench echo` beside ours, sockudo-ws and yawc. It follows the Rust clients' contract
(benches/echo/client.rs; the line is `Sample` in benches/echo/harness.rs): open --conns
connections, run one closed loop per connection (send the payload, await its echo),
measure a window after the warm-up, and print one line

    RESULT count=.. wall_ns=.. run_ns=.. wait_ns=.. user_ns=.. sys_ns=.. srv_run_ns=.. srv_wait_ns=..

with CPU read from /proc exactly as benches/echo/procfs.rs reads it. Exits 1 with a message
on stderr if a connection fails, an echo differs, or compression was not negotiated.
"""

import argparse
import asyncio
import os
import sys
import time

from websockets.asyncio.client import connect


def cpu(pid):
    """(run_ns, wait_ns, user_ns, sys_ns) of process `pid` ("self" for this one)."""
    run = wait = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                fields = f.read().split()
            run += int(fields[0])
            wait += int(fields[1])
        except (OSError, IndexError, ValueError):
            pass  # a thread exited meanwhile
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    ns_per_tick = 1_000_000_000 // os.sysconf("SC_CLK_TCK")
    return run, wait, int(rest[11]) * ns_per_tick, int(rest[12]) * ns_per_tick


async def main(args):
    with open(args.payload_file, "rb") as f:
        payload = f.read()
    message = payload.decode("utf-8") if args.text else payload
    conns = []
    for _ in range(args.conns):
        ws = await connect(
            f"ws://{args.addr}/",
            compression="deflate" if args.deflate else None,
            max_size=None,
            ping_interval=None,
        )
        if args.deflate and not ws.protocol.extensions:
            sys.exit("python-websockets: the server did not accept permessage-deflate")
        conns.append(ws)

    state = {"count": 0, "stop": False, "error": None}

    async def echo_loop(ws):
        try:
            while not state["stop"]:
                await ws.send(message)
                reply = await ws.recv()
                if reply != message:
                    state["error"] = f"the echo differs from the {len(payload)}-byte message"
                    return
                state["count"] += 1
        except Exception as e:  # reported below, as the Rust clients do
            state["error"] = f"python-websockets: {e!r}"

    loops = [asyncio.create_task(echo_loop(ws)) for ws in conns]
    server = str(args.server_pid) if args.server_pid else None

    def snapshot():
        return (
            state["count"],
            time.monotonic_ns(),
            cpu("self"),
            cpu(server) if server else None,
        )

    await asyncio.sleep(args.warmup_ms / 1000)
    a = snapshot()
    await asyncio.sleep(args.duration_ms / 1000)
    b = snapshot()
    state["stop"] = True
    if state["error"]:
        sys.exit(state["error"])
    run, wait, user, sys_ns = (y - x for x, y in zip(a[2], b[2]))
    if a[3] and b[3]:
        srv_run, srv_wait = b[3][0] - a[3][0], b[3][1] - a[3][1]
    else:
        srv_run = srv_wait = -1
    print(
        f"RESULT count={b[0] - a[0]} wall_ns={b[1] - a[1]} run_ns={run} wait_ns={wait} "
        f"user_ns={user} sys_ns={sys_ns} srv_run_ns={srv_run} srv_wait_ns={srv_wait}",
        flush=True,
    )
    # Leave at once, as the Rust clients do: no orderly close of every connection.
    for task in loops:
        task.cancel()
    os._exit(0)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--addr", required=True)
    parser.add_argument("--conns", type=int, required=True)
    parser.add_argument("--payload-file", required=True)
    parser.add_argument("--warmup-ms", type=int, required=True)
    parser.add_argument("--duration-ms", type=int, required=True)
    parser.add_argument("--server-pid", type=int)
    parser.add_argument("--text", action="store_true")
    parser.add_argument("--deflate", action="store_true")
    asyncio.run(main(parser.parse_args()))
