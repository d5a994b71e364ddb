"""Developer tools that talk to the sidecar from outside: the Python stdio client and `make demo`. Not the runtime."""
