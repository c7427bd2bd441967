"""pytest glue for nbval.

Notebooks are committed without outputs.  A cell marked ``# NBVAL_CHECK_OUTPUT``
keeps its reference output as text in its metadata (``dip_expected``, written by
``python -m course_tools record``); here it becomes the output nbval compares with.

Under pytest-xdist (``make test`` runs ``-n 2``) a notebook's cells go to one worker, in order, so that they share
one kernel; the other tests go one by one to whichever worker is free.
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


#: files whose tests go to one worker together: test_gpu_check's share one toy run of about a minute
WHOLE_FILES = ("tests/test_gpu_check.py",)


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config, log):
    """pytest-xdist's scheduler, with a notebook's cells (and each file in WHOLE_FILES) as one unit of work."""
    from xdist.scheduler import LoadScopeScheduling

    class NotebookScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            path = nodeid.split("::", 1)[0]
            return path if path.endswith(".ipynb") or path in WHOLE_FILES else nodeid

    return NotebookScheduling(config, log)
