"""An agent's terminal pane: masked output, and sections that keep steps running side by side readable.

Each step writes to its own section. Sections are shown in the order they were opened: the first unfinished one
streams live, the ones after it collect their output (bounded) and show it, whole, when their turn comes. The
human sees what a one-after-the-other run would have printed, while the steps overlap in time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio

from sidecar.provisioning.masking import LineMasker

Emit = Callable[[str, str], Awaitable[None]]  # (stream, already masked text)

MAX_BUFFERED_CHARS = 1024 * 1024


class Section:
    def __init__(self, terminal: Terminal) -> None:
        self._terminal = terminal
        self._maskers = {"stdout": LineMasker(), "stderr": LineMasker()}
        self._buffer: list[tuple[str, str]] = []
        self._buffered = 0
        self._dropped = False
        self.closed = False

    async def write(self, stream: str, text: str) -> None:
        """The `sink(stream, text)` of `SfClient.run`."""
        stream = stream if stream in self._maskers else "stdout"
        await self._terminal._write(self, stream, self._maskers[stream].feed(text))

    async def line(self, text: str, stream: str = "stdout") -> None:
        await self.write(stream, text if text.endswith("\n") else text + "\n")

    async def close(self) -> None:
        if self.closed:
            return
        for stream, masker in self._maskers.items():
            rest = masker.flush()
            if rest:
                await self._terminal._write(self, stream, rest)
        self.closed = True
        await self._terminal._advance()

    def _keep(self, stream: str, text: str) -> None:
        if self._buffered + len(text) > MAX_BUFFERED_CHARS:
            if not self._dropped:
                self._buffer.append(("stderr", "[... output cut: this step printed more than 1 MiB ...]\n"))
                self._dropped = True
            return
        self._buffer.append((stream, text))
        self._buffered += len(text)


class Terminal:
    def __init__(self, emit: Emit) -> None:
        self._emit = emit
        self._sections: list[Section] = []
        self._lock = anyio.Lock()

    def section(self) -> Section:
        section = Section(self)
        self._sections.append(section)
        return section

    async def _write(self, section: Section, stream: str, text: str) -> None:
        if not text:
            return
        async with self._lock:
            if self._sections and self._sections[0] is section:
                await self._emit(stream, text)
            else:
                section._keep(stream, text)

    async def _advance(self) -> None:
        async with self._lock:
            while self._sections and self._sections[0].closed:
                self._sections.pop(0)
                if self._sections:
                    head = self._sections[0]
                    for stream, text in head._buffer:
                        await self._emit(stream, text)
                    head._buffer.clear()
