"""The all-number ratings files of the MovieLens releases parsed at memory speed (numba kernels).

``userId,movieId,rating,timestamp`` lines hold nothing but digits, one "." and separators, so a
strict grammar read by a byte loop beats any general CSV reader: pandas and pyarrow type each
field, copy it into column buffers and concatenate the chunks; this parser writes each field once,
into its final array, and validates while it reads (ranges, known movie ids, sort order), on one
thread per core.

The grammar is deliberately narrow: each line is four fields of ASCII digits (the rating may hold
one "." with digits on both sides), separated by ",", ended by "\\n" or "\\r\\n" (the last one may
be missing). Anything else (a sign, a space, a quote, an exponent, a blank line, an extra field,
an id beyond int32, more than 15 digits, a rating outside 0.5-5, an unknown movie) stops the
parse with a status, and the caller falls back to a general reader whose message names the line.
Within the grammar every value is exactly what :func:`~recsys_core.data.readers.read_table`
would read: integers of at most 15 digits are exact in int64 and float64, and a rating
``m / 10**k`` (m < 10**15, k <= 15) is one correctly rounded division, like a correctly rounded
decimal parser.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba as nb
import numpy as np

from ..threads import available_cores

#: Status of a chunk: clean, or why the caller must use a general reader.
CLEAN, NOT_CLEAN, ID_BEYOND_INT32, UNKNOWN_ITEM, RATING_OUT_OF_RANGE = 0, 1, 2, 3, 4
_MAX_DIGITS = 15
_POW10 = 10.0 ** np.arange(_MAX_DIGITS + 1)
#: Chunks per thread: a busy machine (other processes on the cores) still finishes evenly.
_CHUNKS_PER_THREAD = 4
#: No chunk smaller than this (tests lower it to cut a few lines into many chunks), none bigger
#: than that (each thread's buffer: read twice, and cache-warm, instead of the whole file once).
_MIN_CHUNK_BYTES = 1 << 20
_MAX_CHUNK_BYTES = 8 << 20
#: Per-chunk summary columns (see _parse_chunk).
(_S_STATUS, _S_ROWS, _S_FIRST_USER, _S_LAST_USER, _S_FIRST_COL, _S_LAST_COL, _S_INCREASING,
 _S_BAD_AT) = range(8)
_N_STATS = 8


@nb.njit(nogil=True, cache=True)
def _count_lines(buf, start, stop):  # pragma: no cover - compiled
    """Line ends in buf[start:stop], plus one when the last line has none."""
    n = 0
    for i in range(start, stop):
        n += buf[i] == 10
    if stop > start and buf[stop - 1] != 10:
        n += 1
    return n


@nb.njit(nogil=True, cache=True, inline="always")
def _digits(buf, i, stop):  # pragma: no cover - compiled
    """(value, number of digits, index after them) of the ASCII digits from buf[i]."""
    value = 0
    n = 0
    while i < stop:
        c = np.int64(buf[i]) - 48
        if c < 0 or c > 9:
            break
        value = value * 10 + c
        n += 1
        i += 1
    return value, n, i


@nb.njit(nogil=True, cache=True)
def _parse_chunk(buf, start, stop, item_table, item_lo, unknown, pow10, low, high, users, cols,
                 ratings, times, row0, row_end, item_counts, stats):  # pragma: no cover - compiled
    """Parse the whole ``user,movie,rating,timestamp`` lines of buf[start:stop] into rows row0,
    row0 + 1, ... (never row_end or beyond: more lines is NOT_CLEAN) of the outputs.

    users (int32 raw ids), cols (int32: ``item_table[movie - item_lo]``, ``unknown`` meaning
    not a movie), ratings (float32 of the float64 value), times (int64). ``item_counts``
    (n_items,) adds one per row to its column. ``stats`` (``_N_STATS``,) receives the status,
    rows parsed, first and last user and column, whether (user, column) pairs strictly increase
    and the offset of the last line read (the faulty one on a fault).

    The rating "d.d" and the 10-digit timestamp (every MovieLens line) are read without a loop
    whose exit depends on the data: a mispredicted branch per field costs more than the digits.
    """
    i = start
    r = row0
    span = len(item_table)
    increasing = True
    prev_user = -1
    prev_col = -1
    status = 0
    line_start = start
    while i < stop:
        line_start = i
        if r >= row_end:  # the file changed since its lines were counted
            status = 1
            break
        # The two id fields are written out: one inline helper returning a status for both
        # made the 25M parse a third slower (1.86 against 1.41 CPU s, bench_scale.py).
        user, n, i = _digits(buf, i, stop)
        if n == 0 or n > 15 or i >= stop or buf[i] != 44:
            status = 1
            break
        if user > 2147483647:
            status = 2
            break
        movie, n, i = _digits(buf, i + 1, stop)
        if n == 0 or n > 15 or i >= stop or buf[i] != 44:
            status = 1
            break
        if movie > 2147483647:
            status = 2
            break
        k = movie - item_lo
        if k < 0 or k >= span:
            status = 3
            break
        col = np.int64(item_table[k])
        if col == unknown:
            status = 3
            break
        i += 1
        if i + 3 < stop and buf[i + 1] == 46 and buf[i + 3] == 44:  # "d.d,"
            d0 = np.int64(buf[i]) - 48
            d1 = np.int64(buf[i + 2]) - 48
            if d0 < 0 or d0 > 9 or d1 < 0 or d1 > 9:
                status = 1
                break
            mantissa = d0 * 10 + d1
            scale = 1
            i += 3
        else:
            mantissa, n, i = _digits(buf, i, stop)
            scale = 0
            if n > 0 and i < stop and buf[i] == 46:
                fraction, scale, i = _digits(buf, i + 1, stop)
                if scale == 0 or n + scale > 15:
                    status = 1
                    break
                mantissa = mantissa * np.int64(pow10[scale]) + fraction
            if n == 0 or n > 15 or i >= stop or buf[i] != 44:
                status = 1
                break
        rating = mantissa / pow10[scale]
        if not (rating >= low and rating <= high):
            status = 4
            break
        i += 1
        ok = False
        if i + 10 < stop and buf[i + 10] == 10:  # ten digits and "\n"
            stamp = 0
            ok = True
            for j in range(10):
                c = np.int64(buf[i + j]) - 48
                ok &= (c >= 0) & (c <= 9)
                stamp = stamp * 10 + c
            if ok:
                i += 11
        if not ok:  # any other length, or "\r\n"
            stamp, n, i = _digits(buf, i, stop)
            if n == 0 or n > 15:
                status = 1
                break
            if i < stop and buf[i] == 13:  # "\r\n"
                i += 1
                if not (i < stop and buf[i] == 10):
                    status = 1
                    break
            if i < stop:
                if buf[i] != 10:
                    status = 1
                    break
                i += 1
        if r == row0:
            stats[2] = user
            stats[4] = col
        elif user < prev_user or (user == prev_user and col <= prev_col):
            increasing = False
        prev_user = user
        prev_col = col
        users[r] = user
        cols[r] = col
        ratings[r] = np.float32(rating)
        times[r] = stamp
        item_counts[col] += 1
        r += 1
    stats[0] = status
    stats[1] = r - row0
    stats[3] = prev_user
    stats[5] = prev_col
    stats[6] = increasing
    stats[7] = line_start


@nb.njit(nogil=True, cache=True)
def _user_runs(users, n_rows):  # pragma: no cover - compiled
    """For users that never decrease: (distinct ids, CSR indptr) from the runs of equal ids."""
    n_runs = 0
    for r in range(n_rows):
        if r == 0 or users[r] != users[r - 1]:
            n_runs += 1
    ids = np.empty(n_runs, np.int64)
    indptr = np.empty(n_runs + 1, np.int64)
    k = -1
    for r in range(n_rows):
        if r == 0 or users[r] != users[r - 1]:
            k += 1
            ids[k] = users[r]
            indptr[k] = r
    indptr[n_runs] = n_rows
    return ids, indptr


@dataclass
class ParsedRatings:
    """What :func:`parse_ratings_file` read.

    Attributes
    ----------
    users : ndarray of int32, shape (n_rows,)
        Raw user ids, in file order.
    cols : ndarray of int32, shape (n_rows,)
        Index of each row's movie in the ``item_ids`` given to :func:`parse_ratings_file`.
    ratings : ndarray of float32, shape (n_rows,)
    timestamps : ndarray of int64, shape (n_rows,)
        Seconds since the epoch.
    item_counts : ndarray of int64, shape (n_items,)
        Rows per movie.
    canonical : bool
        Rows sorted by user, then movie, with no (user, movie) pair twice: the rows are CSR order
        as they stand (every MovieLens release).
    """

    users: np.ndarray
    cols: np.ndarray
    ratings: np.ndarray
    timestamps: np.ndarray
    item_counts: np.ndarray
    canonical: bool

    def user_runs(self) -> tuple[np.ndarray, np.ndarray]:
        """(sorted distinct user ids int64, CSR indptr int64) when :attr:`canonical`."""
        return _user_runs(self.users, len(self.users))


def _item_table(item_ids: np.ndarray) -> tuple[np.ndarray, int, int] | None:
    """(index of each id - lowest id, the index meaning "no such movie", lowest id) when the ids
    are dense enough. uint16 up to 65,534 movies (ml-25m's 209k ids: 418 KB, which stays in a
    core's L2 cache with the counts, where int32 spills), else int32."""
    lo, hi = int(item_ids.min()), int(item_ids.max())
    if lo < 0 or hi > 2**31 - 1 or hi - lo + 1 > max(16 * len(item_ids), 1 << 22):
        return None
    dtype, unknown = (np.uint16, 65535) if len(item_ids) < 65535 else (np.int32, -1)
    table = np.full(hi - lo + 1, unknown, dtype=dtype)
    table[item_ids - lo] = np.arange(len(item_ids), dtype=dtype)
    return table, unknown, lo


def _read_into(fd: int, buf: np.ndarray, offset: int) -> int:
    """Fill ``buf`` with the file's bytes from ``offset`` (pread releases the GIL); the number of
    bytes read, short only at the end of the file."""
    view = memoryview(buf)
    done = 0
    while done < len(view):
        got = os.preadv(fd, [view[done:]], offset + done)
        if got <= 0:
            break
        done += got
    return done


def parse_ratings_file(path, body_start: int, item_ids: np.ndarray,
                       rating_range: tuple[float, float] = (0.5, 5.0),
                       n_threads: int | None = None) -> ParsedRatings | int:
    """Parse the ``user,movie,rating,timestamp`` lines of a ratings file from byte
    ``body_start`` (just after its header line).

    The file is cut into pieces of at most :data:`_MAX_CHUNK_BYTES` at line starts; each thread
    reads a piece into its own buffer (pread, reused: no 600 MB copy of the file in memory) and
    counts its lines; once every piece's first row is known, each piece is read again and parsed
    into its rows of the outputs.

    Parameters
    ----------
    path : the file.
    body_start : int
        Offset of the first data line.
    item_ids : ndarray of int64, shape (n_items,)
        The known movie ids (distinct); each row's movie becomes its index here.
    rating_range : (low, high)
        Allowed ratings, inclusive.
    n_threads : int, optional
        Default: the cores this process may run on.

    Returns
    -------
    ParsedRatings, or a status (NOT_CLEAN, ID_BEYOND_INT32, UNKNOWN_ITEM, RATING_OUT_OF_RANGE)
    saying why a general reader must read the file (no rows, movie ids too sparse for a lookup
    table, or a file that changed while it was read, are NOT_CLEAN). OSError when the file
    cannot be read.
    """
    if len(item_ids) == 0:
        return NOT_CLEAN
    found = _item_table(np.asarray(item_ids, dtype=np.int64))
    if found is None:
        return NOT_CLEAN
    item_table, unknown, item_lo = found
    threads = n_threads or available_cores()
    with open(path, "rb") as f:
        fd = f.fileno()
        n = os.fstat(fd).st_size
        if body_start >= n:
            return NOT_CLEAN
        body = n - body_start
        n_chunks = max(1, min(max(threads * _CHUNKS_PER_THREAD, -(-body // _MAX_CHUNK_BYTES)),
                              body // _MIN_CHUNK_BYTES))
        bounds = [body_start]  # cut at line starts: read a little at each cut first
        for k in range(1, n_chunks):
            at = body_start + body * k // n_chunks
            end = os.pread(fd, 1 << 16, at).find(b"\n")
            if end >= 0 and bounds[-1] < at + end + 1 < n:
                bounds.append(at + end + 1)
        bounds.append(n)
        spans = list(zip(bounds[:-1], bounds[1:]))
        local = threading.local()

        def piece(k) -> np.ndarray | None:
            """Piece k of the file in this thread's buffer; None if the file got shorter."""
            start, stop = spans[k]
            if getattr(local, "buf", None) is None or len(local.buf) < stop - start:
                local.buf = np.empty(max(stop - start, 1), dtype=np.uint8)
            buf = local.buf[:stop - start]
            return buf if _read_into(fd, buf, start) == len(buf) else None

        def count(k) -> int:
            buf = piece(k)
            return -1 if buf is None else _count_lines(buf, 0, len(buf))

        with ThreadPoolExecutor(threads) as pool:
            counts = list(pool.map(count, range(len(spans))))
            if min(counts) < 0:
                return NOT_CLEAN
            offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
            n_rows = int(offsets[-1])
            users = np.empty(n_rows, np.int32)
            cols = np.empty(n_rows, np.int32)
            ratings = np.empty(n_rows, np.float32)
            times = np.empty(n_rows, np.int64)
            stats = np.zeros((len(spans), _N_STATS), np.int64)
            thread_counts = []  # one int32 (n_items,) per thread: 23M rows fit, and stay cached
            low, high = float(rating_range[0]), float(rating_range[1])

            def parse(k):
                buf = piece(k)
                if buf is None:
                    stats[k, _S_STATUS] = NOT_CLEAN
                    return
                if getattr(local, "counts", None) is None:
                    local.counts = np.zeros(len(item_ids), np.int32)
                    thread_counts.append(local.counts)  # list.append is atomic
                _parse_chunk(buf, 0, len(buf), item_table, item_lo, unknown, _POW10, low, high,
                             users, cols, ratings, times, offsets[k], offsets[k + 1],
                             local.counts, stats[k])

            list(pool.map(parse, range(len(spans))))
    for k in range(len(spans)):
        if stats[k, _S_STATUS] != CLEAN:
            return int(stats[k, _S_STATUS])
        if stats[k, _S_ROWS] != counts[k]:  # fewer lines than counted: the file changed
            return NOT_CLEAN
    canonical = bool(stats[:, _S_INCREASING].all())
    for k in range(1, len(spans)):  # across the cuts
        prev_user, user = stats[k - 1, _S_LAST_USER], stats[k, _S_FIRST_USER]
        if user < prev_user or (user == prev_user
                                and stats[k, _S_FIRST_COL] <= stats[k - 1, _S_LAST_COL]):
            canonical = False
    item_counts = np.zeros(len(item_ids), np.int64)
    for counts_of_thread in thread_counts:
        item_counts += counts_of_thread
    return ParsedRatings(users, cols, ratings, times, item_counts, canonical)
