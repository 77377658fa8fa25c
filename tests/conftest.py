import os

# Tests run on the CPU; a lent GPU would only change timings, never results checked here.
os.environ.setdefault("JAX_PLATFORMS", "cpu")
