"""Score one row with an XGBoost model through libxgboost's C API, without `import xgboost`.

`import xgboost` imports scipy.sparse unconditionally and scikit-learn whenever it is installed
(xgboost/core.py, xgboost/compat.py): about 2.8 s on a loaded 2-core machine, and a `gate assess`
process scores a single change. This module loads the same shared library that the installed
xgboost package ships and makes the calls `xgboost.Booster(params={"nthread": 1})`,
`load_model` and `predict` make, so margins and contributions are exactly the Python package's
(tests/model/test_booster.py compares them bit for bit). Training and batch prediction keep
using the xgboost package.
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import threading
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np

_UINT64 = ctypes.c_uint64
_PREDICT_MARGIN = 1  # XGBoosterPredictFromDMatrix's "type": 1 margin, 2 exact SHAP contributions
_PREDICT_CONTRIBS = 2


class BoosterError(RuntimeError):
    """libxgboost refused a call (its own message), or the library cannot be found."""


@cache
def library() -> ctypes.CDLL:
    """libxgboost from the installed xgboost package, located by the package's own libpath.py."""
    spec = importlib.util.find_spec("xgboost")  # finds the package without running its __init__
    if spec is None or not spec.submodule_search_locations:
        raise BoosterError("the xgboost package is not installed")
    libpath_file = Path(next(iter(spec.submodule_search_locations))) / "libpath.py"
    libpath_spec = importlib.util.spec_from_file_location("_gate_xgboost_libpath", libpath_file)
    if libpath_spec is None or libpath_spec.loader is None:
        raise BoosterError(f"cannot read {libpath_file}")
    libpath = importlib.util.module_from_spec(libpath_spec)
    libpath_spec.loader.exec_module(libpath)
    try:
        lib = ctypes.cdll.LoadLibrary(libpath.find_lib_path()[0])
    except (OSError, IndexError, libpath.XGBoostLibraryNotFound) as error:
        raise BoosterError(f"cannot load libxgboost: {error}") from None
    lib.XGBGetLastError.restype = ctypes.c_char_p
    return lib


def _check(lib: ctypes.CDLL, status: int) -> None:
    if status != 0:
        raise BoosterError(lib.XGBGetLastError().decode("utf-8", "replace"))


class RowScorer:
    """A booster loaded from a saved model; scores single rows, one call at a time."""

    def __init__(self, model: bytes) -> None:
        """`model`: the bytes of a saved model (JSON or UBJSON), as `Booster.save_raw` gives."""
        self._lib = lib = library()
        self._handle = ctypes.c_void_p()
        _check(lib, lib.XGBoosterCreate(None, _UINT64(0), ctypes.byref(self._handle)))
        # the parameters xgboost.Booster(params={"nthread": 1}) sets, in its order
        for name, value in (("nthread", "1"), ("validate_parameters", "True")):
            _check(lib, lib.XGBoosterSetParam(self._handle, name.encode(), value.encode()))
        buffer = ctypes.create_string_buffer(model, len(model))
        _check(lib, lib.XGBoosterLoadModelFromBuffer(self._handle, buffer, _UINT64(len(model))))
        self._lock = threading.Lock()

    def __del__(self) -> None:
        handle = getattr(self, "_handle", None)
        if handle is not None and handle.value:
            self._lib.XGBoosterFree(handle)

    @property
    def feature_names(self) -> list[str]:
        length = _UINT64()
        names = ctypes.POINTER(ctypes.c_char_p)()
        _check(
            self._lib,
            self._lib.XGBoosterGetStrFeatureInfo(
                self._handle, b"feature_name", ctypes.byref(length), ctypes.byref(names)
            ),
        )
        return [names[i].decode() for i in range(length.value)]

    def margin_and_contributions(
        self, row: Sequence[float | None], feature_names: Sequence[str]
    ) -> tuple[float, list[float]]:
        """The margin and the per-feature contributions (bias last) of one row; None is missing."""
        values = np.array([row], dtype=np.float32)  # None becomes NaN, xgboost's missing
        with self._lock:
            matrix = self._matrix(values, feature_names)
            try:
                margin = self._predict(matrix, _PREDICT_MARGIN)[0]
                contributions = self._predict(matrix, _PREDICT_CONTRIBS)
            finally:
                self._lib.XGDMatrixFree(matrix)
        return margin, contributions

    def _matrix(self, values: np.ndarray, feature_names: Sequence[str]) -> ctypes.c_void_p:
        lib = self._lib
        interface = {
            "data": (values.ctypes.data, True),
            "shape": list(values.shape),
            "strides": None,
            "typestr": "<f4",
            "version": 3,
        }
        config = {"missing": float("nan"), "nthread": 1, "data_split_mode": 0}
        matrix = ctypes.c_void_p()
        _check(
            lib,
            lib.XGDMatrixCreateFromDense(
                json.dumps(interface).encode(), json.dumps(config).encode(), ctypes.byref(matrix)
            ),
        )
        names = (ctypes.c_char_p * len(feature_names))(*[n.encode() for n in feature_names])
        status = lib.XGDMatrixSetStrFeatureInfo(
            matrix, b"feature_name", names, _UINT64(len(feature_names))
        )
        if status != 0:
            lib.XGDMatrixFree(matrix)
            _check(lib, status)
        return matrix

    def _predict(self, matrix: ctypes.c_void_p, kind: int) -> list[float]:
        lib = self._lib
        config = {
            "type": kind,
            "training": False,
            "iteration_begin": 0,
            "iteration_end": 0,
            "strict_shape": False,
        }
        shape = ctypes.POINTER(_UINT64)()
        dims = _UINT64()
        result = ctypes.POINTER(ctypes.c_float)()
        _check(
            lib,
            lib.XGBoosterPredictFromDMatrix(
                self._handle,
                matrix,
                json.dumps(config).encode(),
                ctypes.byref(shape),
                ctypes.byref(dims),
                ctypes.byref(result),
            ),
        )
        size = 1
        for axis in range(dims.value):
            size *= shape[axis]
        # the buffer belongs to the booster and is overwritten by its next prediction: copy it
        return [float(result[i]) for i in range(size)]
