"""Provisioning: from an agent's worktree to a scratch org a person is logged into, streamed live.

pipeline.py (the steps of one run), service.py (runs, the durable queue and its hand-over), creation.py (capacity
reservations and `org create scratch`), prewarm.py, sfrun.py (`sf:run`'s access rules), terminal.py and
masking.py (what the terminal pane shows), paths.py (what a run may touch), store.py (all SQL).
"""
