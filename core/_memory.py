"""The memory guard: refuse a computation before it allocates more than the machine can give.

Several metrics build an n x n matrix (diffusion entropy, an RBF or small-d kernel spectrum,
the H0 barcode's distances, an exact Vendi of a given kernel) or a large copy of the data
(the exact kNN search). Allocated blindly, such a matrix makes a shared server swap, or gets
the process killed (by the kernel's OOM killer or a container's limit), taking every user's
session with it. :func:`require_memory` is called *before* the allocation with the bytes the
step will hold at its peak; above the budget it raises :class:`MemoryBudgetError` (an
:class:`~core._validation.EmbedLensInputError`) naming the size, the budget and the option that
avoids it (a smaller sample, random features, approximate search).

The budget (:func:`memory_budget`) is ``EMBEDLENS_MEMORY_BUDGET_MB`` when set, else
:data:`BUDGET_SHARE` of the memory this process can still get: the least of the machine's
available memory (``MemAvailable`` of ``/proc/meminfo``, else ``os.sysconf``), the headroom of
a cgroup v2 memory limit (``memory.max - memory.current``) and of an address-space limit
(``RLIMIT_AS`` minus the process's current ``VmSize``). It is read at each call, since what is
available changes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ._validation import EmbedLensInputError

__all__ = ["BUDGET_SHARE", "MemoryBudgetError", "memory_budget", "require_memory", "matrix_bytes", "format_bytes"]

BUDGET_SHARE = 0.5
"""Share of the memory this process can still get that one computation may take (default budget)."""

ENV = "EMBEDLENS_MEMORY_BUDGET_MB"


class MemoryBudgetError(EmbedLensInputError):
    """A computation that would need more memory than the budget; ``needed`` / ``budget`` in bytes."""

    def __init__(self, message: str, *, needed: int, budget: int) -> None:
        self.needed = int(needed)
        self.budget = int(budget)
        super().__init__(message)


@dataclass(frozen=True)
class Budget:
    """The budget in bytes and where it came from (for the message)."""

    nbytes: int
    source: str


def format_bytes(n: float) -> str:
    """``n`` bytes as people write them: ``512 B``, ``3.2 MB``, ``1.5 GB``, ``2.1 TB`` (powers of 1024).

    Parameters
    ----------
    n : float
        A number of bytes (>= 0).

    Returns
    -------
    str
        One decimal from MB up, none below.

    Raises
    ------
    TypeError, ValueError
        From ``float(n)``, for a value that is not a number.
    """
    n = float(n)
    for unit, size in (("TB", 1 << 40), ("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if n >= size:
            return f"{n / size:,.1f} {unit}" if unit != "kB" else f"{n / size:,.0f} kB"
    return f"{int(n)} B"


def _meminfo_available() -> int | None:
    try:
        text = Path("/proc/meminfo").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return None


def _sysconf_available() -> int | None:
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def _cgroup_headroom() -> int | None:
    """``memory.max - memory.current`` of this process's cgroup v2, or None when unlimited / unknown."""
    try:
        rel = next(line.split(":", 2)[2] for line in Path("/proc/self/cgroup").read_text().splitlines()
                   if line.startswith("0::"))
        folder = Path("/sys/fs/cgroup") / rel.strip().lstrip("/")
        limit = (folder / "memory.max").read_text().strip()
        if limit == "max":
            return None
        return max(int(limit) - int((folder / "memory.current").read_text().strip()), 0)
    except (OSError, StopIteration, ValueError, IndexError):
        return None


def _address_space_headroom() -> int | None:
    """``RLIMIT_AS`` minus the current virtual size, or None when unlimited / unknown."""
    try:
        import resource

        soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, OSError, ValueError):
        return None
    if soft == resource.RLIM_INFINITY or soft < 0:
        return None
    used = 0
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                used = int(line.split()[1]) * 1024
                break
    except OSError:
        pass
    return max(int(soft) - used, 0)


def memory_budget() -> Budget:
    """The most one computation may allocate: ``EMBEDLENS_MEMORY_BUDGET_MB``, else a share of what is free.

    Returns
    -------
    Budget
        ``nbytes`` and ``source``: the environment variable, or ``BUDGET_SHARE`` of the least of
        the available memory, the cgroup limit's headroom and the address-space limit's headroom
        (each named). When none can be read (no ``/proc``, no ``sysconf``), 4 GB.

    Raises
    ------
    EmbedLensInputError
        ``EMBEDLENS_MEMORY_BUDGET_MB`` is set to something that is not a positive number.
    """
    raw = os.environ.get(ENV, "").strip()
    if raw:
        try:
            mb = float(raw)
        except ValueError:
            mb = float("nan")
        if not mb > 0 or mb == float("inf"):
            raise EmbedLensInputError(f"{ENV}={raw!r} is not a positive number of megabytes")
        return Budget(int(mb * (1 << 20)), f"{ENV}={raw}")
    limits = []
    avail = _meminfo_available()
    if avail is None:
        avail = _sysconf_available()
    if avail is not None:
        limits.append((avail, "available memory"))
    cg = _cgroup_headroom()
    if cg is not None:
        limits.append((cg, "room under the container's memory limit"))
    vm = _address_space_headroom()
    if vm is not None:
        limits.append((vm, "room under the address-space limit (ulimit -v)"))
    if not limits:
        return Budget(4 << 30, "a default of 4 GB (the available memory could not be read)")
    room, what = min(limits)
    return Budget(int(room * BUDGET_SHARE), f"{BUDGET_SHARE:.0%} of the {format_bytes(room)} of {what}; "
                  f"set {ENV} to change it")


def matrix_bytes(rows: int, cols: int | None = None, *, itemsize: int = 8, copies: float = 1) -> int:
    """Bytes of ``copies`` dense ``rows x cols`` matrices (``cols`` defaults to ``rows``: square).

    Parameters
    ----------
    rows, cols : int
        The shape; ``cols=None`` means square.
    itemsize : int, default=8
        Bytes per entry (float64: 8, float32: 4).
    copies : float, default=1
        How many such matrices the step holds at its peak (temporaries, LAPACK work space).

    Returns
    -------
    int
        ``ceil(rows * cols * itemsize * copies)``, in Python integers (no overflow).

    Raises
    ------
    TypeError, ValueError
        From ``int()``, for a shape or itemsize that is not a number.
    """
    cols = rows if cols is None else cols
    return int(-(-int(rows) * int(cols) * int(itemsize) * copies // 1))


def require_memory(nbytes: int, *, what: str, avoid: str) -> None:
    """Refuse a step that would allocate ``nbytes`` when that is over :func:`memory_budget`.

    Called before the allocation, so a too-large request fails at once with a message instead
    of swapping or getting the process killed.

    Parameters
    ----------
    nbytes : int
        The step's peak allocation in bytes (see :func:`matrix_bytes`).
    what : str
        The step and its size, e.g. ``"diffusion entropy's 60,000 x 60,000 distance matrix"``.
    avoid : str
        The option that avoids it, e.g. ``"use a smaller sample (max_n)"``.

    Returns
    -------
    None

    Raises
    ------
    MemoryBudgetError
        When ``nbytes`` is over the budget; the message names ``what``, both sizes, where the
        budget comes from and ``avoid``.
    EmbedLensInputError
        From :func:`memory_budget`, for a malformed ``EMBEDLENS_MEMORY_BUDGET_MB``.

    Examples
    --------
    >>> import os
    >>> os.environ["EMBEDLENS_MEMORY_BUDGET_MB"] = "100"
    >>> require_memory(matrix_bytes(1000), what="a 1,000 x 1,000 matrix", avoid="use fewer rows")
    >>> try:
    ...     require_memory(matrix_bytes(100_000), what="a 100,000 x 100,000 matrix", avoid="use fewer rows")
    ... except MemoryBudgetError as e:
    ...     print(e)
    a 100,000 x 100,000 matrix needs about 74.5 GB of memory, over the budget of 100.0 MB (EMBEDLENS_MEMORY_BUDGET_MB=100); use fewer rows
    >>> del os.environ["EMBEDLENS_MEMORY_BUDGET_MB"]
    """
    nbytes = int(nbytes)
    budget = memory_budget()
    if nbytes <= budget.nbytes:
        return
    raise MemoryBudgetError(
        f"{what} needs about {format_bytes(nbytes)} of memory, over the budget of "
        f"{format_bytes(budget.nbytes)} ({budget.source}); {avoid}",
        needed=nbytes, budget=budget.nbytes,
    )
