"""CRC-24A (3GPP TS 38.212 polynomial 0x864CFB), vectorised over equal-length blocks.

The link starts the register at all ones (``LINK_CRC_INIT``) rather than 3GPP's zero: with a zero
start an all-zero block has an all-zero CRC, and a decoder that fails to all zeros (Sionna's
Turbo decoder does on overflow) would pass the check.
"""

from __future__ import annotations

import numpy as np

CRC_BITS = 24
_POLY = 0x864CFB


def _table() -> np.ndarray:
    table = np.zeros(256, dtype=np.uint32)
    for byte in range(256):
        crc = byte << 16
        for _ in range(8):
            crc = ((crc << 1) ^ _POLY) if crc & 0x800000 else (crc << 1)
        table[byte] = crc & 0xFFFFFF
    return table


_TABLE = _table()
_TABLE64 = _TABLE.astype(np.int64)
LINK_CRC_INIT = 0xFFFFFF


def crc24a(data: np.ndarray, init: int = LINK_CRC_INIT) -> np.ndarray:
    """CRC-24A of each row (MSB first, no final XOR).

    Args:
        data: uint8 ``[M, L]`` bytes (one block per row).
        init: initial register (0 gives the 3GPP CRC: check value 0xCDE703 for b"123456789").
    Returns:
        uint8 ``[M, 3]``: the CRC, most significant byte first.
    """
    data = np.ascontiguousarray(data, dtype=np.uint8)
    if data.ndim != 2:
        raise ValueError(f"crc24a expects uint8 [M, L], got shape {data.shape}")
    if _crc_rows is not None:
        crc = np.empty(data.shape[0], dtype=np.int64)
        _crc_rows(data, int(init), _TABLE64, crc)
    else:
        crc = _crc_numpy(data, init)
    out = np.empty((data.shape[0], 3), dtype=np.uint8)
    out[:, 0] = (crc >> 16) & 0xFF
    out[:, 1] = (crc >> 8) & 0xFF
    out[:, 2] = crc & 0xFF
    return out


def _crc_numpy(data: np.ndarray, init: int) -> np.ndarray:
    """The table-driven register over the columns (vectorised over rows; no numba)."""
    crc = np.full(data.shape[0], init, dtype=np.uint32)
    for j in range(data.shape[1]):
        idx = ((crc >> 16) ^ data[:, j]) & 0xFF
        crc = ((crc << 8) & 0xFFFFFF) ^ _TABLE[idx]
    return crc


try:  # the same register, one compiled loop per row (the link's blocks are ~1 kB each)
    from numba import njit

    @njit(cache=True)
    def _crc_rows(data, init, table, out):
        for m in range(data.shape[0]):
            crc = np.int64(init)
            for j in range(data.shape[1]):
                crc = ((crc << 8) & 0xFFFFFF) ^ table[((crc >> 16) ^ data[m, j]) & 0xFF]
            out[m] = crc
except ImportError:  # pragma: no cover - numba is a dependency
    _crc_rows = None


def attach_crc(data: np.ndarray) -> np.ndarray:
    """uint8 ``[M, L]`` -> ``[M, L + 3]`` with the CRC appended."""
    return np.concatenate([data, crc24a(data)], axis=1)


def check_crc(block: np.ndarray) -> np.ndarray:
    """bool ``[M]``: true where the last 3 bytes of each row are the CRC of the rest."""
    return np.all(crc24a(block[:, :-3]) == block[:, -3:], axis=1)
