"""Per-workflow sandbox scenarios: the outside world each deployed stack expects."""
