"""Benchmarks: `make bench` (or `.venv/bin/python -m bench`). Each figure is a ratio to a baseline measured in the
same run on the same machine, because absolute times on a small, shared 2-core machine mean little."""
