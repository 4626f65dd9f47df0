"""`python -m agent`: the same command line as the `agent` console script."""

from agent.cli import main

if __name__ == "__main__":
    main()
