"""The command line: thin typer commands, each handing its work to the engine, heal, explain or report."""
