"""mmrft: reinforcement fine-tuning of multimodal LLMs on verifiable rewards."""

__version__ = "0.1.0"
