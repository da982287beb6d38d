"""For customers' developers: the API client and bulk encryption.

Exchange credentials for a bearer and encrypt through the Crypto API::

    from shared.client import ApiClient, JwtBearerGrant

    with ApiClient(authz_url=..., crypto_url=..., account_id="acme",
                   grant=JwtBearerGrant([token])) as client:
        client.encrypt(token).token

or a whole file with :func:`encrypt_file`. Imports only :mod:`shared.wire` and
:mod:`shared.errors` of ours: never server code, hvac or redis.
"""

from shared.client.api_client import ApiClient
from shared.client.bulk_encrypt import Summary, encrypt_file
from shared.client.bulk_run import BatchEncryptor, BulkOptions, Progress
from shared.client.errors import ApiError, ApiRateLimited, ApiRefused, ApiUnavailable
from shared.client.grants import ClientAssertionGrant, Grant, JwtBearerGrant
from shared.client.output_file import OutputInvalid
from shared.client.retry import Pause, RetryPolicy, call_with_retries
from shared.client.row_signer import RowSigner
from shared.client.rows import (
    FORMATS,
    ROW_INVALID,
    TOKEN_FIELD,
    Format,
    InputInvalid,
    Row,
    count_rows,
    detect_format,
    first_tokens,
    read_rows,
)

__all__ = [
    "FORMATS",
    "ROW_INVALID",
    "TOKEN_FIELD",
    "ApiClient",
    "ApiError",
    "ApiRateLimited",
    "ApiRefused",
    "ApiUnavailable",
    "BatchEncryptor",
    "BulkOptions",
    "ClientAssertionGrant",
    "Format",
    "Grant",
    "InputInvalid",
    "JwtBearerGrant",
    "OutputInvalid",
    "Pause",
    "Progress",
    "RetryPolicy",
    "Row",
    "RowSigner",
    "Summary",
    "call_with_retries",
    "count_rows",
    "detect_format",
    "encrypt_file",
    "first_tokens",
    "read_rows",
]
