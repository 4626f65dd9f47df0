"""`python -m agent`: the same command line as the `agent` console script (with the interpreter's usual
teardown, so a caller running it in-process can still look at what it loaded)."""

from agent.cli.main import app

if __name__ == "__main__":
    app()
