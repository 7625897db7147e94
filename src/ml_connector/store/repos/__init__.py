"""Repositories: one per table, all working inside a caller's transaction (:class:`~ml_connector.store.Tx`)."""
