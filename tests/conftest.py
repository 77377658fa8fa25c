"""Settings for the whole test session.

The ``jaxdl`` command keeps compiled programs in the user's cache folder
(``$XDG_CACHE_HOME/jaxdl/xla``, see ``jaxdl.compile_cache``). The tests run the command many
times, in process and as subprocesses, and must neither read nor fill the real folder: a warm
one would hide compile time that a fresh machine pays, and the tests' programs do not belong
there. ``XDG_CACHE_HOME`` therefore points at one new folder for the session, made by the
first pytest process and inherited by its pytest-xdist workers and by every process they start,
then removed at the end.
"""

from __future__ import annotations

import os
import shutil
import tempfile

_OWNER = "JAXDL_TEST_CACHE_HOME"  # set by the process that made the folder; workers inherit it


def pytest_configure(config) -> None:
    if os.environ.get(_OWNER):
        return
    folder = tempfile.mkdtemp(prefix="jaxdl-test-cache-")
    os.environ[_OWNER] = os.environ["XDG_CACHE_HOME"] = folder
    config._jaxdl_cache_home = folder


def pytest_unconfigure(config) -> None:
    folder = getattr(config, "_jaxdl_cache_home", None)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        del os.environ[_OWNER]
