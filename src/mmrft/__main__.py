"""``python -m mmrft`` (and ``torchrun ... -m mmrft train CONFIG``) runs the CLI."""

from mmrft.cli import main

if __name__ == "__main__":
    main()
