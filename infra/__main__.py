"""`python -m infra`: the command line, from the interpreter infra is installed in (the GitHub Action runs it so)."""

from infra.cli import main

if __name__ == "__main__":
    main()
