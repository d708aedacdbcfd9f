"""What every benchmark shares: timings, memory readings, runs in a fresh process."""

import multiprocessing
import resource
import statistics
import time


def current_rss_mb():
    """The memory this process holds now (resident set), in MiB."""
    with open("/proc/self/statm") as file:
        return int(file.read().split()[1]) * 4096 / 2**20


def peak_rss_mb():
    """The most memory this process has held so far (peak resident set), in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(function, repeat):
    """Median seconds of ``repeat`` calls of ``function()``."""
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def _call(function, args, queue):
    queue.put(function(*args))


def in_fresh_process(function, *args):
    """``function(*args)`` in a new Python process; its return value.

    Each measurement starts from an empty process, so imports, caches and
    earlier peaks of memory do not carry over from one to the next.
    ``function`` must be defined at module level (it is imported there).
    """
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_call, args=(function, args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result
