"""Keep TensorFlow's C++ start-up lines out of the notebooks.

TensorFlow 2.21 logs "oneDNN custom operations are on ..." and a CPU-feature line from C++ as it
loads, whatever ``TF_CPP_MIN_LOG_LEVEL`` says; a notebook shows them as red text under the first
cell that imports it. :func:`install` (run by ``import dip_helpers``) makes the first
``import tensorflow`` capture file descriptor 2 and pass on every line except those.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import os
import sys
import tempfile

BANNER = ("before absl::InitializeLog()", "oneDNN custom operations are on", "cpu_feature_guard.cc")


@contextlib.contextmanager
def stderr_without(lines=BANNER):
    """Capture what C code writes to file descriptor 2; afterwards re-emit each line containing none of ``lines``."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no usable descriptor 2: nothing to filter
        yield
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            kept = [x for x in tmp.read().decode(errors="replace").splitlines(True) if not any(s in x for s in lines)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


class _QuietTensorFlow(importlib.abc.MetaPathFinder):
    """Finds ``tensorflow`` until it is imported, and runs its module code inside :func:`stderr_without`.

    A mere look-up (``importlib.util.find_spec``, as the engine's backend check does) leaves it in place.
    """

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)  # find the real spec without finding ourselves again
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        if spec is not None and spec.loader is not None:
            run = spec.loader.exec_module

            def exec_module(module):
                if self in sys.meta_path:
                    sys.meta_path.remove(self)  # once imported, nothing more to quiet
                with stderr_without():
                    run(module)

            spec.loader.exec_module = exec_module
        return spec


def install() -> None:
    """Quiet the first ``import tensorflow`` of this process (no effect once it is imported)."""
    if "tensorflow" not in sys.modules and not any(isinstance(f, _QuietTensorFlow) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlow())
