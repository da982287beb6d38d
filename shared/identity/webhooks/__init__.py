"""The ``profile.updated`` webhook (DESIGN §11, pushback): the event, its durable outbox in
Redis and its delivery per the Standard Webhooks specification."""

from shared.identity.webhooks.delivery import Deliverer, WebhookTarget
from shared.identity.webhooks.events import ProfileChange, ProfileUpdated, Queued, profile_updated
from shared.identity.webhooks.outbox import GROUP, Outbox

__all__ = [
    "GROUP",
    "Deliverer",
    "Outbox",
    "ProfileChange",
    "ProfileUpdated",
    "Queued",
    "WebhookTarget",
    "profile_updated",
]
