from stacks.bucket_usage.stack import BucketUsageStack

__all__ = ["BucketUsageStack"]
