"""The command line: one module per command group; formats output and maps errors to exit codes."""
