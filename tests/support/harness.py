"""The stdio harness tests use: the package's own client (sidecar.devtools.client.py), which the demo and bench use
too."""

from sidecar.devtools.client import RpcError, SidecarProcess

__all__ = ["RpcError", "SidecarProcess"]
