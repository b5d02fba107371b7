"""``python -m frontline.cli``: the command line."""

from . import main

main()
