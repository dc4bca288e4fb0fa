"""Constructs every workflow stack composes (config, Lambda, state machine, notices, payload bucket, cdk-nag)."""
