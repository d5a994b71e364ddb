"""The scratch-org pool: models, SQL (store) and rules (service). Knows nothing of JSON-RPC."""
