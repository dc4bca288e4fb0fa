import atexit
import os
import sys

from sandbox import timings  # noqa: F401 - first, so the import phase counts the CLI's imports

from sandbox.cli import main

try:
    main()
    code = 0
except SystemExit as exc:  # typer ends every command with sys.exit(code)
    if isinstance(exc.code, int) or exc.code is None:
        code = exc.code or 0
    else:
        print(exc.code, file=sys.stderr)
        code = 1
# Everything the command started is stopped by now (context managers). Run the exit handlers and flush, then end
# without the interpreter's teardown of thousands of modules (moto's), which costs seconds and does nothing here.
atexit._run_exitfuncs()
for stream in (sys.stdout, sys.stderr):
    try:
        stream.flush()
    except OSError:  # e.g. the reader of a pipe left (`| head`)
        pass
os._exit(code)
