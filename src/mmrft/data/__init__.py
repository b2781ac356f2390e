"""The standard dataset format and its loaders."""

from mmrft.data.jsonl import LoadResult, read_jsonl, write_jsonl
from mmrft.data.sample import Sample

__all__ = ["LoadResult", "Sample", "read_jsonl", "write_jsonl"]
