"""What the player does with a token the verifier accepted (DESIGN §11): the account's
player settings and their store, prefill mapping, the customer's profile API, the
participation gate, form tokens and submissions. Pure logic: no web framework."""

from shared.identity.errors import (
    CampaignNotFound,
    FormCrossSite,
    FormInvalid,
    FormUsed,
    NotEligible,
    ParticipationLimitReached,
    PlayerSettingsInvalid,
    ProfileUnauthorized,
    SsoDenied,
    SsoFailed,
    SsoIssuerMismatch,
    SsoStateInvalid,
    SsoUnavailable,
)
from shared.identity.form_keys import ensure_form_keys, load_form_keys
from shared.identity.form_token import FORM_TTL, FormClaims, FormKeys, FormTokens
from shared.identity.identification import Gift, Identification, Identifier, ServedCampaign
from shared.identity.messages import MESSAGE_TYPES, MessageChannel, message_channel
from shared.identity.participations import Participations
from shared.identity.player import CampaignPage, Player
from shared.identity.player_secrets import PlayerSecrets, PlayerSecretsStore
from shared.identity.player_settings import (
    Campaign,
    PlayerSettings,
    SsoSettings,
    WebhookSettings,
    check_origin,
    check_profile_api,
    validate_player_settings,
)
from shared.identity.player_store import PlayerStore
from shared.identity.prefill import prefill
from shared.identity.profile_api import ProfileApi
from shared.identity.submission import FieldChange, Submissions, Submitted

__all__ = [
    "FORM_TTL",
    "MESSAGE_TYPES",
    "Campaign",
    "CampaignNotFound",
    "CampaignPage",
    "FieldChange",
    "FormClaims",
    "FormCrossSite",
    "FormInvalid",
    "FormKeys",
    "FormTokens",
    "FormUsed",
    "Gift",
    "Identification",
    "Identifier",
    "MessageChannel",
    "NotEligible",
    "ParticipationLimitReached",
    "Participations",
    "Player",
    "PlayerSecrets",
    "PlayerSecretsStore",
    "PlayerSettings",
    "PlayerSettingsInvalid",
    "PlayerStore",
    "ProfileApi",
    "ProfileUnauthorized",
    "ServedCampaign",
    "SsoDenied",
    "SsoFailed",
    "SsoIssuerMismatch",
    "SsoSettings",
    "SsoStateInvalid",
    "SsoUnavailable",
    "Submissions",
    "Submitted",
    "WebhookSettings",
    "check_origin",
    "check_profile_api",
    "ensure_form_keys",
    "load_form_keys",
    "message_channel",
    "prefill",
    "validate_player_settings",
]
