"""Settings for the whole test session: one compile cache, new for each session.

The ``jaxdl`` command keeps compiled programs in the user's cache folder
(``$XDG_CACHE_HOME/jaxdl/xla``, see ``jaxdl.infra.compile_cache``). The tests run the command many
times, in process and as subprocesses, and must neither read nor fill the real folder: a warm
one would hide compile time that a fresh machine pays, and the tests' programs do not belong
there. ``XDG_CACHE_HOME`` therefore points at one new folder for the session, made by the
first pytest process and inherited by its pytest-xdist workers and by every process they start,
then removed at the end.

The tests' own programs go through that cache too (``compile_cache.enable``, restored after
any test that turns it off or points it elsewhere), so a program that several workers or
processes compile is compiled once per session, as it is once per machine for a user of the
command: the suite took 525 s instead of 567-588 s on two cores. Every session starts empty.
"""

from __future__ import annotations

import gc
import ipaddress
import os
import shutil
import socket
import tempfile

import jax
import pytest

from jaxdl.infra import compile_cache

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


def _session_cache() -> None:
    if jax.config.jax_compilation_cache_dir != str(compile_cache.default_directory()):
        compile_cache.enable()


def _loopback_only(real_connect):
    """``socket.connect`` that refuses every address outside the loopback range: the tests never
    load data from the internet, and a test that tries fails at once, naming the address."""

    def connect(sock, address):
        host = address[0] if isinstance(address, tuple) else address
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            try:
                loopback = ipaddress.ip_address(host).is_loopback
            except ValueError:
                loopback = host == "localhost"
            if not loopback:
                raise ConnectionRefusedError(f"tests may not reach the network ({address!r})")
        return real_connect(sock, address)

    return connect


def pytest_sessionstart(session) -> None:
    _session_cache()
    # JAX starts here, with its default device count: an in-process `jaxdl train`/`sweep` that
    # happened to be a worker's first JAX user would otherwise give that worker one CPU device
    # per core (devices.cpu_device_per_core) for every later test, depending on test order
    jax.devices()
    socket.socket.connect = _loopback_only(socket.socket.connect)  # type: ignore[method-assign]


def _memory_maps() -> int:
    """How many memory mappings this process holds (Linux; 0 where /proc is not there)."""
    try:
        with open("/proc/self/maps", "rb") as maps:
            return sum(1 for _ in maps)
    except OSError:
        return 0


# Each program XLA:CPU compiles keeps a few memory mappings (its machine code) for as long as a
# jit cache holds it: about 3 per program. A worker that runs a thousand tests compiles tens of
# thousands of programs, and at the kernel's limit (vm.max_map_count, 65,530 by default) the
# next compile's mmap fails and LLVM crashes the worker with a segmentation fault (it did, in
# whichever test came next). Past half that limit the jit caches are emptied, which unmaps them;
# later programs come back from the session's compile cache.
_MAPS_BEFORE_CLEARING = 32_000


@pytest.fixture(autouse=True)
def _compile_cache_after_each_test():
    yield
    _session_cache()
    if _memory_maps() > _MAPS_BEFORE_CLEARING:
        jax.clear_caches()
        gc.collect()


# The docstring examples that tests/test_docs_examples.py runs in an EMPTY namespace (its MODULES)
# also come up as --doctest-modules items, which run the same examples with the module's
# globals. An example that passes with no names given passes with more names given, and the
# empty-namespace run's number checker is the stricter one (no relative tolerance), so each such
# --doctest-modules item is left out when its empty-namespace twin is collected in the same run:
# `pytest jaxdl` alone still runs every doctest, and so does a run that deselects the twins.
_TWIN = "test_docs_examples.py::test_docstring_example_runs_in_an_empty_namespace["


@pytest.hookimpl(trylast=True)  # after -k and -m have deselected what they deselect
def pytest_collection_modifyitems(config, items) -> None:
    twins = {item.nodeid.split(_TWIN, 1)[1][:-1] for item in items if _TWIN in item.nodeid}
    if not twins:
        return
    doubled = [item for item in items if isinstance(item, pytest.DoctestItem)
               and item.name in twins]  # a DoctestItem's name is its DocTest's name
    if doubled:
        left_out = set(map(id, doubled))
        items[:] = [item for item in items if id(item) not in left_out]
        config.hook.pytest_deselected(items=doubled)
