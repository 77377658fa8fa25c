"""Infrastructure the course math does not need: atomic writes (``atomic``), directory locks
(``dirlock``), signals (``interrupt``), the persistent compile cache (``compile_cache``), device
selection and data parallelism (``devices``, ``parallel``), progress lines (``progress``),
deprecation shims (``deprecation``) and limits on reading untrusted files (``untrusted``)."""
