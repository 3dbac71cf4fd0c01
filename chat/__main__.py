"""`python -m chat` is the `bwt` command."""

from chat.cli import main

main()
