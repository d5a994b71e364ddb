"""SweatShop org controller sidecar: a stdio JSON-RPC process owning the scratch-org pool."""

__version__ = "0.1.0"
# Bumped when a method's params or result change shape, so the Electron side can refuse a stale sidecar.
PROTOCOL_VERSION = "1.0"
