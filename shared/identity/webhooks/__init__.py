"""The ``profile.updated`` webhook (DESIGN §11, pushback): the event, its durable outbox in
Redis and its delivery per the Standard Webhooks specification."""

from shared.identity.webhooks.delivery import Deliverer, WebhookTarget
from shared.identity.webhooks.events import ProfileChange, ProfileUpdated, Queued, profile_updated
from shared.identity.webhooks.outbox import GROUP, KEY_PREFIX, Outbox, outbox_stream

__all__ = [
    "GROUP",
    "KEY_PREFIX",
    "Deliverer",
    "Outbox",
    "ProfileChange",
    "ProfileUpdated",
    "Queued",
    "WebhookTarget",
    "outbox_stream",
    "profile_updated",
]
