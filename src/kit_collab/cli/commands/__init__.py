"""One module per command: each takes data, returns an exit code, prints through output."""
