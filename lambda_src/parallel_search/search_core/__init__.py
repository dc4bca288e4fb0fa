"""Logic of the parallel-search workflow, free of Lambda plumbing (handlers/ wires it up)."""
