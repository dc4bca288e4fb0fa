"""Per-workflow benchmark sections of `make bench` (one module each)."""
