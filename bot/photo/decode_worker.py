"""A decode worker process: `python -m bot.photo.decode_worker`, run by
`bot.photo.decoding.DecodePool`.

It prepares one image at a time (`images.prepare`) under limits of its own process,
set afresh for each image: the CPU seconds it may use (a profiling timer whose SIGPROF
ends the process, even inside a decoder that never returns to Python; `RLIMIT_CPU` a
second later as the backstop) and the address space it may map (`RLIMIT_AS`: its size
before the image plus the bytes reserved for it, so a decoder that asks for more gets
a failed allocation, not the machine's memory).

The protocol is framed by `bot.photo.decoding`: a header in JSON and a payload of bytes each
way. What it sends back is never unpickled: a decoder exploited by a file could write
anything here, and the parent reads only JSON and bytes from it.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import os
import resource
import signal
import sys
import warnings
from collections.abc import Iterator

from bot.photo import images, rules
from bot.photo.decoding import PEAK_UNKNOWN
from bot.photo.frames import WorkerReply, encode_rejection, read_frame, write_frame

# What the worker may map beyond its size before an image and the bytes reserved for
# the image: Python's own small allocations while it runs (measured under 4 MB; the
# rest is margin for libraries' lazily loaded tables).
_ADDRESS_SLACK = 32 * 1024 * 1024
_PR_SET_PDEATHSIG = 1
# Below the bot's own priority: on a busy machine the event loop that answers everyone
# else's photos comes first, and a decode's CPU limit is in CPU seconds, not wall time.
_NICENESS = 10


def main() -> None:
    """Serve jobs from stdin until it closes."""
    _detach()
    # A decoder's warning on stderr in one line, as `python -m bot check` shows it under
    # the file's name (not Python's two, with this machine's path to Pillow).
    warnings.formatwarning = _one_line
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    write_frame(stdout, {"ready": os.getpid(), "rss": _status("VmRSS")}, b"")
    while (job := read_frame(stdin)) is not None:
        header, data = job
        reply, payload = _prepare(header, data)
        del data, job
        write_frame(stdout, dataclasses.asdict(reply), payload)


def _one_line(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    line: str | None = None,
) -> str:
    return f"{category.__name__}: {' '.join(str(message).split())}\n"


def _prepare(header: dict[str, object], data: bytes) -> tuple[WorkerReply, bytes]:
    photo_size = header.get("photo_size")
    memory_limit = header["memory_limit"]
    reserve = header["reserve"]
    cpu_seconds = header["cpu_seconds"]
    assert isinstance(memory_limit, int)
    assert isinstance(reserve, int)
    assert isinstance(cpu_seconds, int | float)
    size = (
        (int(photo_size[0]), int(photo_size[1]))
        if isinstance(photo_size, list) and len(photo_size) == 2
        else None
    )
    printed = header.get("printed") is True
    with _limits(reserve, cpu_seconds) as start:
        try:
            prepared = images.prepare(data, size, memory_limit=memory_limit, printed=printed)
        except rules.ImageRejected as reason:
            return _reply(start, rejected=encode_rejection(reason)), b""
        except MemoryError:
            over = rules.TooMuchWork(rules.Work.MEMORY, None, reserve)
            return _reply(start, rejected=encode_rejection(over)), b""
        except Exception as exc:  # one hostile file must not end the worker
            return _reply(start, crashed=type(exc).__name__), b""
    return _reply(
        start,
        mime=prepared.mime,
        width=prepared.width,
        height=prepared.height,
        source_format=prepared.source_format,
        changes=sorted(change.value for change in prepared.changes),
        fingerprint=prepared.fingerprint.to_json() if prepared.fingerprint else None,
    ), prepared.data


def _reply(start: int, **fields: object) -> WorkerReply:
    """What the image came to, with the worker's RSS before it, at its peak and after."""
    peak = _status("VmHWM")
    return WorkerReply(start=start, peak=peak, rss=_status("VmRSS"), **fields)  # type: ignore[arg-type]


@contextlib.contextmanager
def _limits(reserve: int, cpu_seconds: float) -> Iterator[int]:
    """The image's own limits, lifted again after it (soft limits only: the hard ones
    stay unlimited so the next image can be given its own)."""
    _reset_peak()
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu_used = used.ru_utime + used.ru_stime
    address_space = _status("VmSize")
    unlimited = resource.RLIM_INFINITY
    # SIGPROF's default action ends the process: no handler is installed for it. The
    # timer counts this process's CPU time to the microsecond; RLIMIT_CPU counts whole
    # seconds, so it comes a second or two later, should anything hold SIGPROF off.
    signal.setitimer(signal.ITIMER_PROF, cpu_seconds)
    resource.setrlimit(resource.RLIMIT_CPU, (int(cpu_used + cpu_seconds) + 2, unlimited))
    if address_space != PEAK_UNKNOWN:
        resource.setrlimit(
            resource.RLIMIT_AS, (address_space + reserve + _ADDRESS_SLACK, unlimited)
        )
    try:
        yield _status("VmRSS")
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        resource.setrlimit(resource.RLIMIT_AS, (unlimited, unlimited))
        resource.setrlimit(resource.RLIMIT_CPU, (unlimited, unlimited))


def _detach() -> None:
    """Leave signals to the parent, die with it, and keep no core files: the parent
    stops the bot (SIGINT from a terminal reaches the whole process group) and ends
    its workers itself."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.nice(_NICENESS)
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:  # the parent died before prctl took effect
        sys.exit(0)
    # libheif would start threads of its own, each with a stack and allocator arena
    # that count against RLIMIT_AS; one image at a time is what the worker is for.
    with contextlib.suppress(ImportError, AttributeError):
        import pillow_heif

        pillow_heif.options.DECODE_THREADS = 1


def _reset_peak() -> None:
    """Make VmHWM start again from the current RSS (Linux 4.0+), so it tells this
    image's peak."""
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")


def _status(field: str) -> int:
    """A size from /proc/self/status in bytes, or `PEAK_UNKNOWN` off Linux."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return PEAK_UNKNOWN


if __name__ == "__main__":
    main()
