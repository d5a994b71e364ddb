"""Provisioning: from an agent's worktree to a scratch org a person is logged into, streamed live.

service.py (the facade the handlers call: provision, stop_agent, queue, runs, login_url), runs.py (one run from
start to end), dispatcher.py (the durable queue and its hand-over), ownership.py (heartbeats, runs whose sidecar
is gone), lifecycle.py (the run states, the verbs between them, what each means for the agent), pipeline.py (the
steps of one run, returning one frozen outcome), creation.py (capacity reservations and `org create scratch`),
prewarm.py, sfrun.py (`sf:run`'s access rules), terminal.py and masking.py (what the terminal pane shows),
paths.py (the one path check), store.py (all SQL). Status and terminal output leave as events (models.py).
"""
