"""Test helper: the command line run in this process."""


def run_cli(capsys, *args):
    """``python -m dip_helpers ARGS`` in this process: its exit code, stdout and stderr."""
    from dip_helpers.__main__ import main

    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err
