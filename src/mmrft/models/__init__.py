"""Model families, builtin tiny models and the one loading entry point."""

from mmrft.models import tiny_audio, tiny_families, tiny_families_anyres  # noqa: F401 (tiny-*)
from mmrft.models.families import FAMILIES, ModelFamily, family_for
from mmrft.models.loading import load_policy, save_policy
from mmrft.models.tiny import TINY_MODELS

__all__ = ["FAMILIES", "TINY_MODELS", "ModelFamily", "family_for", "load_policy", "save_policy"]
