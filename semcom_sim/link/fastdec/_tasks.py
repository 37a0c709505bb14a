"""How a batch of code blocks is split over cores (threads) and SIMD lanes; tensor I/O.

The numba kernels release the GIL (``nogil=True``), so plain Python threads run them on all
cores; this avoids numba's parallel backend and its extra compile time.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

_pool: ThreadPoolExecutor | None = None


def num_threads() -> int:
    """Cores to use: ``NUMBA_NUM_THREADS`` if set, else the CPUs this process may run on."""
    env = os.environ.get("NUMBA_NUM_THREADS")
    if env:
        return max(1, int(env))
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


def split_tasks(batch: int, max_lanes: int) -> tuple[int, int]:
    """(tasks, lanes) for ``batch`` blocks: one task per core, each decoding its share of the
    blocks ``lanes`` at a time; lanes is a power of two, at most ``max_lanes`` and no larger
    than a task's share (small batches waste no lanes)."""
    tasks = max(1, min(batch, num_threads()))
    share = -(-batch // tasks)
    lanes = 1
    while lanes < share and lanes < max_lanes:
        lanes *= 2
    return tasks, lanes


def run_tasks(batch: int, tasks: int, decode: Callable[[int, int], None]) -> None:
    """Call ``decode(b0, b1)`` on ``tasks`` contiguous shares of range(batch), in parallel."""
    global _pool
    bounds = [(t * batch // tasks, (t + 1) * batch // tasks) for t in range(tasks)]
    if tasks == 1:
        decode(*bounds[0])
        return
    if _pool is None or _pool._max_workers < tasks:
        _pool = ThreadPoolExecutor(max_workers=max(tasks, num_threads()))
    for fut in [_pool.submit(decode, b0, b1) for b0, b1 in bounds]:
        fut.result()


def llr_to_numpy(llr: torch.Tensor, n: int) -> np.ndarray:
    """[..., n] LLR tensor -> contiguous [B, n] float32 array (no copy for CPU float32)."""
    flat = llr.detach().reshape(-1, n)
    if flat.device.type != "cpu" or flat.dtype != torch.float32:
        flat = flat.to("cpu", torch.float32)
    return np.ascontiguousarray(flat.numpy())


def bits_to_torch(bits: np.ndarray, like: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """uint8 hard bits -> tensor of ``like``'s dtype and device, reshaped to ``shape``.

    The dtype conversion runs in numpy: a torch elementwise op on > 32k elements goes
    multi-threaded, which is slow when the cores are shared.
    """
    try:
        np_dtype = torch.empty(0, dtype=like.dtype).numpy().dtype
    except TypeError:  # e.g. bfloat16: no numpy dtype
        np_dtype = None
    if np_dtype is not None:
        out = torch.from_numpy(bits.astype(np_dtype))
    else:
        out = torch.from_numpy(bits).to(like.dtype)
    return out.reshape(shape).to(like.device)
