"""pytest glue for nbval.

Notebooks are committed without outputs.  A cell marked ``# NBVAL_CHECK_OUTPUT``
keeps its reference output as text in its metadata (``dip_expected``, written by
``python -m course_tools record``); here it becomes the output nbval compares with.
"""

import nbformat
import pytest


def pytest_collection_modifyitems(items):
    try:
        from nbval.plugin import IPyNbCell
    except ImportError:
        return
    for item in items:
        if not isinstance(item, IPyNbCell) or not item.options.get("check"):
            continue
        expected = item.cell.metadata.get("dip_expected")
        if expected is None:
            raise pytest.UsageError(
                f"{item.nodeid}: NBVAL_CHECK_OUTPUT cell without recorded output; run `python -m course_tools record`"
            )
        item.cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=expected)] if expected else []
        item.cell.execution_count = 1  # nbval compares only cells that were run
