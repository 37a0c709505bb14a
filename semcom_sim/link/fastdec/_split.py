"""How a batch of code blocks is split over cores and SIMD lanes."""

import numba


def split_tasks(batch: int, max_lanes: int) -> tuple[int, int]:
    """(tasks, lanes) for ``batch`` blocks: one task per numba thread, each decoding its
    share of the blocks ``lanes`` at a time; lanes is a power of two, at most ``max_lanes``
    and no larger than needed for a task's share (small batches waste no lanes)."""
    tasks = max(1, min(batch, numba.get_num_threads()))
    share = -(-batch // tasks)
    lanes = 1
    while lanes < share and lanes < max_lanes:
        lanes *= 2
    return tasks, lanes
