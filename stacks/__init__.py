"""CDK stacks: one per workflow, composed of constructs from `stacks.common`."""
