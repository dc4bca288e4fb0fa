"""single-flight: one workflow (workflow.py declares it; stack.py builds it; see README.md)."""
