from stacks.parallel_search.settings import ParallelSearchSettings, SearchApiSettings
from stacks.parallel_search.stack import ParallelSearchStack

__all__ = ["ParallelSearchSettings", "ParallelSearchStack", "SearchApiSettings"]
