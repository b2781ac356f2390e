"""Model families, builtin tiny models and the one loading entry point."""

from mmrft.models import (  # noqa: F401 (importing registers the families and tiny-* models)
    families_anyres,
    families_audio,
    tiny_audio,
    tiny_families,
    tiny_families_anyres,
)
from mmrft.models.families import FAMILIES, ModelFamily, family_for
from mmrft.models.loading import load_policy, save_policy
from mmrft.models.tiny import TINY_MODELS

__all__ = ["FAMILIES", "TINY_MODELS", "ModelFamily", "family_for", "load_policy", "save_policy"]
