"""``python -m copilot`` runs the command line."""

from copilot.cli import main

if __name__ == "__main__":  # not again in a ``spawn`` child (the phone-loop helper)
    raise SystemExit(main())
