"""Per-workflow scenarios: what a deployed stack expects outside it (secrets, stand-in servers), one module each."""
