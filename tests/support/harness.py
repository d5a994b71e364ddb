"""The stdio harness tests use: the package's own client (sidecar/client.py), which the demo and bench use too."""

from sidecar.client import RpcError, SidecarProcess

__all__ = ["RpcError", "SidecarProcess"]
