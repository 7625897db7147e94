"""The ServiceTitan system package (servicetitan-api.md).

* :mod:`.client` — :class:`~.client.STClient`, the only code that talks HTTP to ServiceTitan;
* :mod:`.models` — typed, lenient response models; :mod:`.payloads` — typed write inputs;
* :mod:`.errors` — typed errors; :mod:`.pagination` — page lists and export feeds;
* :mod:`.webhooks` — V2 webhook signatures and event identity.

Import the modules you need (``from ml_connector.systems.servicetitan import client as st``):
this package imports nothing eagerly, so the webhook receiver does not load the HTTP stack.
"""
