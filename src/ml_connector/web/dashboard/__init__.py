"""The operations dashboard: server-rendered pages (Starlette + Jinja2, no JavaScript build).

Pages: overview (per connection and flow: last and next run, counts, errors, a chart of records
per day), the attention queue (filter, detail with the source record and mapping decisions, replay,
ignore with a comment), audit search and one record's history, reconciliation for a month, and
match review (``/matches``: the proposals of ``ml-connector match`` by entity and state; accept,
pick another candidate or reject, recorded and linked as ``match apply`` does).
Every page but ``/login`` needs a session; every POST needs the session's CSRF token (see
:mod:`.session`).
"""

from ml_connector.web.dashboard.views import Dashboard, ScheduledRun

__all__ = ["Dashboard", "ScheduledRun"]
