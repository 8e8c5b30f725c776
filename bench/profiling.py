"""Where a request spends its time: py-spy samples of an ecsram worker under load, summarised.

Only the event loop's thread is counted (``is_event_loop_stack``): the shares are of the time
the thread that serves requests spends.

py-spy is installed into its own venv (bench/.venv-tools) on first use. ``record`` pauses the
worker for each sample (py-spy's default: with --nonblocking about half the stacks came out
torn, starting at an inner frame) and writes collapsed stacks; ``summarise`` turns them into
the share of samples per function: inclusive (on the stack) and self (at the top).
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TOOLS = Path(__file__).resolve().parent / ".venv-tools"
_LINE = re.compile(r"^(.*) (\d+)$")
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def ensure_py_spy() -> Path:
    binary = TOOLS / "bin" / "py-spy"
    if not binary.exists():
        print(f"installing py-spy into {TOOLS} ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(TOOLS)], check=True)
        subprocess.run([str(TOOLS / "bin" / "pip"), "install", "--quiet", "py-spy"], check=True)
    return binary


def py_spy_version() -> str:
    binary = TOOLS / "bin" / "py-spy"
    if not binary.exists():
        return "not installed"
    return subprocess.run([str(binary), "--version"], capture_output=True, text=True, check=False).stdout.strip()


def start_recording(pid: int, seconds: float, output: Path, rate: int = 250) -> subprocess.Popen[str]:
    command = [
        str(ensure_py_spy()),
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(max(1, round(seconds))),
        "--rate",
        str(rate),
        "--format",
        "raw",
        "--output",
        str(output),
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@dataclass(frozen=True)
class Frame:
    function: str
    file: str

    @property
    def name(self) -> str:
        short = re.sub(r".*/(site-packages|src)/", "", self.file)
        return f"{self.function} ({short})"


def parse_frame(text: str) -> Frame:
    match = _FRAME.match(text.strip())
    if match is None:
        return Frame(text.strip(), "")
    return Frame(match.group("func"), match.group("file"))


def is_event_loop_stack(frames: list[Frame]) -> bool:
    """A sample of the thread that serves requests. The store's watchdog thread (and the circuit's
    recovery thread) wake to check a deadline and then wait for the GIL, which py-spy samples as
    busy: counted in, they took up to a fifth of all samples and shrank every share beside them."""
    return frames[0].function != "Thread._bootstrap"


def summarise(collapsed: Path, top: int = 30) -> dict[str, Any]:
    inclusive: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        stack, count = match.group(1), int(match.group(2))
        frames = [parse_frame(part) for part in stack.split(";")]
        frames = [f for f in frames if f.file]  # drop process/thread header frames
        if not frames or not is_event_loop_stack(frames):
            continue
        total += count
        for name in {frame.name for frame in frames}:
            inclusive[name] += count
        self_time[frames[-1].name] += count

    def share(counter: Counter[str], only: str | None = None) -> list[dict[str, Any]]:
        rows = [(name, n) for name, n in counter.most_common() if only is None or only in name]
        return [{"function": name, "percent": round(100.0 * n / total, 1)} for name, n in rows[:top]]

    return {
        "samples": total,
        "inclusive_ecsram": share(inclusive, "ecsram/"),
        "inclusive_all": share(inclusive),
        "self": share(self_time),
    }


def children(collapsed: str, parent: str) -> dict[str, float]:
    """Share of all samples spent in each direct callee of the frames named ``parent``
    (``function (file)`` as ``summarise`` names them); "(self)" is time in ``parent`` itself."""
    shares: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        match = _LINE.match(line)
        if match is None:
            continue
        count = int(match.group(2))
        parsed = [f for f in (parse_frame(part) for part in match.group(1).split(";")) if f.file]
        if not parsed or not is_event_loop_stack(parsed):
            continue
        total += count
        frames = [f.name for f in parsed]
        if parent in frames:
            at = frames.index(parent)
            shares[frames[at + 1] if at + 1 < len(frames) else "(self)"] += count
    return {name: round(100.0 * n / total, 1) for name, n in shares.most_common()} if total else {}
