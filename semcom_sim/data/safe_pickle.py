"""A restricted unpickler for data files: plain containers and plain numpy arrays only.

Data files are untrusted. ``pickle.load`` runs whatever callable a pickle names (an
``os.system`` in ``__reduce__`` is enough), so every pickle-format input of semcom-sim is read
with :func:`safe_load`, whose :meth:`SafeUnpickler.find_class` resolves only the few globals
numpy needs to rebuild a plain (non-object) ``ndarray``:

| global                                                 | why                                   |
|--------------------------------------------------------|---------------------------------------|
| ``numpy.core.multiarray._reconstruct`` (numpy 1 path)   | ndarray, pickle protocols 0-4         |
| ``numpy._core.multiarray._reconstruct`` (numpy 2 path)  | the same                              |
| ``numpy.ndarray``, ``numpy.dtype``                     | the array's type and its dtype        |
| ``numpy.core.numeric._frombuffer`` / ``numpy._core...`` | ndarray, pickle protocol 5            |
| ``_codecs.encode`` (only with ``latin1``)              | ``bytes`` in protocol 0-2 pickles     |
| ``builtins.bytes`` / ``__builtin__.bytes`` (no args)   | ``b""`` in protocol 0-2 pickles       |

Everything else (``os.system``, ``builtins.eval``, ``subprocess.Popen``, any class) is refused
before it is looked up, so nothing in the file runs. Dicts, lists, tuples, strings, bytes,
ints, floats, booleans and None need no global at all. The wrappers also refuse object dtypes
and ndarray subclasses, so an array can only hold plain numbers.
"""

from __future__ import annotations

import importlib
import io
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle named a global outside the allow-list (it was not looked up, nothing ran)."""


def _numpy_attr(modules: tuple[str, ...], name: str) -> Callable[..., Any]:
    for m in modules:
        try:
            return getattr(importlib.import_module(m), name)
        except (ImportError, AttributeError):
            continue
    raise ImportError(f"numpy has no {name} in {modules}")  # pragma: no cover


def _plain_dtype(*args: Any) -> np.dtype:
    d = np.dtype(*args)
    if d.hasobject:
        raise UnsafePickleError("object dtypes are not allowed in data pickles")
    return d


def _reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    if subtype is not np.ndarray:
        raise UnsafePickleError("only plain numpy.ndarray may be rebuilt from a data pickle")
    fn = _numpy_attr(("numpy._core.multiarray", "numpy.core.multiarray"), "_reconstruct")
    return fn(subtype, shape, dtype)


def _frombuffer(buf: Any, dtype: Any, shape: Any, order: Any) -> np.ndarray:
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise UnsafePickleError("object dtypes are not allowed in data pickles")
    fn = _numpy_attr(("numpy._core.numeric", "numpy.core.numeric"), "_frombuffer")
    return fn(buf, dtype, shape, order)


def _latin1_encode(obj: Any, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    if encoding not in ("latin1", "latin-1") or errors != "strict" or not isinstance(obj, str):
        raise UnsafePickleError(f"_codecs.encode with {encoding!r} is not allowed")
    return obj.encode("latin1")


def _empty_bytes(*args: Any) -> bytes:
    if args:
        raise UnsafePickleError("bytes() with arguments is not allowed")
    return b""


ALLOWED: dict[tuple[str, str], Callable[..., Any] | type] = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _plain_dtype,
    ("_codecs", "encode"): _latin1_encode,
    ("__builtin__", "bytes"): _empty_bytes,
    ("builtins", "bytes"): _empty_bytes,
}


class SafeUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that resolves only the globals in :data:`ALLOWED`."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(f"refused global {module}.{name}") from None

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError("persistent ids are not allowed in data pickles")


def safe_loads(data: bytes, encoding: str = "bytes") -> Any:
    """Unpickle ``data`` with :class:`SafeUnpickler` (``encoding`` as ``pickle.load``'s).

    Raises:
        UnsafePickleError: a refused global (nothing was executed).
        pickle.UnpicklingError, EOFError, ValueError, ...: a malformed pickle.
    """
    return SafeUnpickler(io.BytesIO(data), encoding=encoding).load()


def safe_load(path: str | Path, encoding: str = "bytes") -> Any:
    """Unpickle the file at ``path`` with :class:`SafeUnpickler`; see :func:`safe_loads`."""
    with open(path, "rb") as f:
        return SafeUnpickler(f, encoding=encoding).load()
