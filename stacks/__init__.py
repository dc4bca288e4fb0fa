"""The CDK stacks: one folder per workflow (stacks/<workflow>/workflow.py declares it) and common/ for shared constructs."""

import os

# jsii prints a Node end-of-life banner on every start under Node 20; the CLI and synth work on it.
# Set before anything imports aws_cdk (the app, preflight, tests and the sandbox all import this package first).
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
