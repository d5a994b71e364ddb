"""`sweatshop-sidecar` / `python -m sidecar`: parse flags, take fd 1 for the protocol, serve stdio."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from pathlib import Path

import anyio

from sidecar.rpc.framing import Framing


def default_home() -> Path:
    return Path(os.environ.get("SWEATSHOP_HOME") or Path.home() / ".sweatshop")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="sweatshop-sidecar", description=__doc__)
    parser.add_argument(
        "--home", type=Path, default=None, help="state directory (default $SWEATSHOP_HOME or ~/.sweatshop)"
    )
    parser.add_argument("--framing", choices=[f.value for f in Framing], default=Framing.NDJSON.value)
    parser.add_argument(
        "--database-url",
        default=None,
        help="team database, postgresql://user:password@host:port/dbname (default $SWEATSHOP_DATABASE_URL, else"
        " the SQLite file <home>/sidecar.db)",
    )
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser.parse_args(argv)


async def _stop_on_sigterm(stop: anyio.Event) -> None:
    """SIGTERM ends serving as stdin EOF does (children stopped, database closed, exit 0); a second one kills."""
    with anyio.open_signal_receiver(signal.SIGTERM) as signals:
        async for _ in signals:
            logging.getLogger("sidecar").info("SIGTERM: stopping as on stdin EOF")
            stop.set()
            return


async def _serve(home: Path, framing: Framing, database_url: str | None) -> None:
    from sidecar import app
    from sidecar.rpc.stdio import FdSendStream, claim_stdout, open_input

    wire = claim_stdout()
    stop = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(_stop_on_sigterm, stop)
        await app.run(home, framing, open_input(0), FdSendStream(wire), stop, database_url=database_url)
        tg.cancel_scope.cancel()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr, level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    home = (args.home or default_home()).expanduser().resolve()
    try:
        anyio.run(_serve, home, Framing(args.framing), args.database_url, backend="asyncio")
    except BaseExceptionGroup as group:
        # The app ends with SystemExit (a bad database URL, a database it cannot open) inside the task group that
        # also listens for SIGTERM: exit with the app's own status, not 1 and a traceback.
        exits = group.subgroup(SystemExit)
        if exits is None:
            raise
        first: BaseException = exits
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None


if __name__ == "__main__":
    main()
