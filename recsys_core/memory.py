"""The memory budget of one fit: how much a model may allocate, and the check that refuses more.

Every model estimates the peak memory of its ``fit`` from its hyperparameters and the data's
shape (:meth:`~recsys_core.models.base.Recommender.estimate_fit_bytes`); the fit is refused, before
anything large is allocated, when that estimate exceeds the budget. The budget is a share of the
machine's memory (:data:`DEFAULT_FRACTION` of the RAM, or of the container's limit when it is
lower), so one careless ``factors=1000000000`` cannot take down a server shared by a class.

``RECSYS_MEMORY_BUDGET`` overrides it: bytes (``"3000000000"``), a size with a unit
(``"2GB"``, ``"512 MiB"``, ``"1.5g"``: K, M, G, T are powers of 1024, the ``B`` and ``i`` are
optional), a fraction of the memory (``"0.25"``) or a percentage (``"25%"``).
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from .errors import MemoryBudgetError

#: Environment variable that sets the budget.
BUDGET_ENV = "RECSYS_MEMORY_BUDGET"
#: Share of the machine's memory one fit may use when the variable is unset.
DEFAULT_FRACTION = 0.5
#: Assumed memory when the machine's cannot be read (no /proc, no sysconf).
FALLBACK_MEMORY = 4 * 1024 ** 3

_UNITS = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4, "p": 1024 ** 5}
_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*(%|[kmgtp]?)(i?b?)\s*$",
                   re.IGNORECASE)


def total_memory() -> int:
    """Bytes of memory this process can count on: the RAM, or the cgroup limit when lower."""
    total = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                total = int(line.split()[1]) * 1024  # the file says kB, meaning KiB
                break
    except (OSError, ValueError, IndexError):
        pass
    if total is None:
        try:
            total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (AttributeError, ValueError, OSError):
            total = FALLBACK_MEMORY
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and 0 < int(text) < total:
            total = int(text)
    return int(total)


def parse_size(text: str, total: int) -> int:
    """Bytes meant by a budget setting (see the module docstring); ``total`` scales fractions.

    Raises :class:`MemoryBudgetError` for text that is not a positive size.
    """
    match = _SIZE.match(str(text))
    if match is None or float(match.group(1)) <= 0:
        raise MemoryBudgetError(
            f"{BUDGET_ENV}={text!r} is not a memory size: give bytes, a size like '2GB' or "
            "'512MiB', a fraction of the memory like '0.5', or a percentage like '50%'",
            estimate=0, budget=0)
    number, unit = float(match.group(1)), match.group(2).lower()
    if unit == "%":
        return int(total * number / 100)
    if not unit and not match.group(3) and number <= 1:
        return int(total * number)
    return int(number * _UNITS[unit])


def memory_budget() -> tuple[int, str]:
    """The budget in bytes, and a phrase saying where it comes from (for messages)."""
    total = total_memory()
    setting = os.environ.get(BUDGET_ENV, "").strip()
    if setting:
        return parse_size(setting, total), f"set by {BUDGET_ENV}={setting}"
    return (int(total * DEFAULT_FRACTION),
            f"{DEFAULT_FRACTION:.0%} of this machine's {format_bytes(total)}; "
            f"{BUDGET_ENV} changes it")


def format_bytes(n: float) -> str:
    """Bytes in binary units with three significant digits: '512 B', '1.50 GiB', '6.86 TiB'."""
    n = float(n)
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")
    power = 0
    while abs(n) >= 1024 and power < len(units) - 1:
        n /= 1024
        power += 1
    if power == 0:
        return f"{int(n)} B"
    if power == len(units) - 1 and abs(n) >= 1000:  # beyond the largest unit
        return f"{n:.3g} {units[power]}"
    if abs(n) >= 999.5:  # 1000-1023 of a unit: whole numbers, not "1.02e+03"
        return f"{n:.0f} {units[power]}"
    return f"{n:.{2 if abs(n) < 10 else 1 if abs(n) < 100 else 0}f} {units[power]}"


def check_memory(estimate: int, what: str, advice: str) -> int:
    """Raise :class:`MemoryBudgetError` when ``estimate`` bytes exceed the budget.

    Parameters
    ----------
    estimate : int
        Estimated peak bytes of the work.
    what : str
        The work, for the message ("training WALS on 943 users x 1,682 items").
    advice : str
        What to change ("lower factors (now 1000000000)").

    Returns
    -------
    The budget in bytes (the work fits).
    """
    budget, source = memory_budget()
    if estimate > budget:
        raise MemoryBudgetError(
            f"{what} would need about {format_bytes(estimate)} of memory, more than the budget of "
            f"{format_bytes(budget)} ({source}): {advice}", estimate=estimate, budget=budget)
    return budget
