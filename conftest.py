"""Settings for the whole suite: tests/ and the doctests of jaxdl/ (``--doctest-modules``), so
an example behaves the same whichever part of the suite runs first."""

import os

# Tests run on the CPU; a lent GPU would only change timings, never results checked here.
os.environ.setdefault("JAX_PLATFORMS", "cpu")
# In-process CLI runs must not fill the user's compile cache; tests of the cache turn it on.
os.environ.setdefault("JAXDL_NO_COMPILE_CACHE", "1")

import signal  # noqa: E402

# A shell starts a background job with SIGINT ignored, which Python and every child process would
# inherit; the interruption tests send SIGINT, so restore Ctrl-C's usual meaning.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
