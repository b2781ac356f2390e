"""The standard dataset format and its loaders."""

from mmrft.data.jsonl import LoadResult, read_jsonl, write_jsonl
from mmrft.data.load import load_dataset_file
from mmrft.data.sample import Sample

__all__ = ["LoadResult", "Sample", "load_dataset_file", "read_jsonl", "write_jsonl"]
