"""The only place that starts processes: finding `sf`, argv, streaming output, killing process groups, envelopes."""
