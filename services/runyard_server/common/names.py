"""Names two services must agree on: Redis channels and key prefixes, and the reserved entity names.

A rename on one side only would silently end live updates or the key cache, so each name is defined
here once and imported by its writer and its readers (tests/test_shared_names.py fails when a literal
copy of a `runyard:` Redis name appears anywhere else in the services). Everything under these names
is rebuildable: Redis holds no data that PostgreSQL does not.
"""

from __future__ import annotations

import re

from .limits import ENTITY_NAME_MAX, PROJECT_NAME_MAX

__all__ = ["APIKEY_CACHE_PREFIX", "ENTITY_NAME_RE", "LOGIN_RATELIMIT_PREFIX", "PROJECT_NAME_RE",
           "RESERVED_ENTITY_NAMES", "WANDB_MANIFEST_PREFIX", "project_channel"]

# verified API keys, cached for a few seconds (common/keycache.py); value: the principal as JSON
APIKEY_CACHE_PREFIX = "runyard:apikey:"
# login attempts per address and per account (auth/ratelimit.py)
LOGIN_RATELIMIT_PREFIX = "runyard:ratelimit:login:"
# W&B artifact manifests rendered for a download, behind a random token for an hour (wandb_compat/manifests.py)
WANDB_MANIFEST_PREFIX = "runyard:wandb:manifest:"


def project_channel(project_pk: int) -> str:
    """The pub/sub channel on which ingest announces committed batches of a project's runs and the
    query service's live hub listens (one small JSON message per batch)."""
    return f"runyard:project:{project_pk}"


# First path segments that the front door and the chart's Ingress route to a service or a fixed page
# (charts/runyard/templates/_helpers.tpl, runyard.httpRoutes; local/frontdoor.py; the UI's routes). A
# user or team with one of these names would own URLs like /<name>/<project> that never reach the UI
# (`/files/...` goes to the W&B protocol, `/tensorboard/...` to TensorBoard), so none may be created.
RESERVED_ENTITY_NAMES = frozenset({
    "api", "assets", "files", "graphql", "healthz", "login", "metrics", "pypi", "readyz", "setup", "signup",
    "tensorboard",
})

# A user's or team's name (auth creates them; other services check names they are handed), and a project's
# (ingest creates projects by these rules: letters, digits and _ . -, starting with a letter or digit).
ENTITY_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0," + str(ENTITY_NAME_MAX - 1) + r"}$")
PROJECT_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0," + str(PROJECT_NAME_MAX - 1) + r"}$")
