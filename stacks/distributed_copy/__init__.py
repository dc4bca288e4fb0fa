"""distributed-copy: Distributed Map over an S3 prefix, batched, verified copy-then-delete."""

from stacks.distributed_copy.stack import DistributedCopyStack

__all__ = ["DistributedCopyStack"]
