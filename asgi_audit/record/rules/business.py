"""Business tools: project and time tracking, CRM and marketing, support, forms and
e-signature, events, sites and content, IoT platforms.

Written from each provider's published key formats. Teamwork's ``tkn.v1_`` and
Ubidots' ``BBFF-`` tokens stand alone; the others (hex, UUIDs, random letters) are
masked only a few words after the provider's name (:func:`near`).
"""

from __future__ import annotations

from typing import Final

from ..scanner import Rule
from ._forms import ALNUM, HEX, UUID, near, token

__all__ = ("RULES",)

_HEX32 = f"{HEX}{{32}}"
_HEX40 = f"{HEX}{{40}}"
_HEX64 = f"{HEX}{{64}}"

#: (name, provider, the provider's words, the secret's shape, the entropy floor)
_NEAR: Final[tuple[tuple[str, str, tuple[str, ...], str, float], ...]] = (
    # --- Projects and time ---
    ("aha-api-key", "Aha!", ("aha",), _HEX64, 3.0),
    ("wrike-token", "Wrike", ("wrike",), "ey[A-Za-z0-9._-]{300,400}", 4.0),
    ("timecamp-api-token", "TimeCamp", ("timecamp",), "[a-z0-9]{26}", 3.0),
    ("toggl-api-token", "Toggl", ("toggl",), _HEX32, 3.0),
    ("clockify-api-key", "Clockify", ("clockify",), f"{ALNUM}{{48}}", 3.5),
    ("harvest-token", "Harvest", ("harvest",), "[A-Za-z0-9._-]{97}", 3.5),
    (
        "everhour-api-key",
        "Everhour",
        ("everhour",),
        f"{HEX}{{4}}-{HEX}{{4}}-{HEX}{{6}}-{HEX}{{6}}-{HEX}{{8}}",
        3.0,
    ),
    ("smartsheet-token", "Smartsheet", ("smartsheet",), f"{ALNUM}{{37}}|{ALNUM}{{26}}", 3.0),
    ("coda-api-token", "Coda", ("coda.io", "coda_api", "coda-api"), UUID, 3.0),
    # --- CRM, marketing and support ---
    ("pipedrive-api-token", "Pipedrive", ("pipedrive",), _HEX40, 3.0),
    ("insightly-api-key", "Insightly", ("insightly",), UUID, 3.0),
    ("capsulecrm-token", "Capsule CRM", ("capsulecrm", "capsule_crm"), "[A-Za-z0-9._+=-]{64}", 3.5),
    ("activecampaign-api-key", "ActiveCampaign", ("activecampaign",), f"{HEX}{{72}}", 3.0),
    (
        "convertkit-api-secret",
        "Kit (ConvertKit)",
        ("convertkit",),
        "[A-Za-z0-9_]{43}|[A-Za-z0-9_]{22}",
        3.0,
    ),
    ("klaviyo-private-key", "Klaviyo", ("klaviyo",), f"pk_{ALNUM}{{34}}", 3.0),
    (
        "customerio-api-key",
        "Customer.io",
        ("customerio", "customer.io", "customer_io"),
        f"{HEX}{{32}}|{HEX}{{20}}",
        3.0,
    ),
    ("delighted-api-key", "Delighted", ("delighted",), f"{ALNUM}{{32}}", 3.0),
    ("helpscout-api-key", "Help Scout", ("helpscout",), f"{ALNUM}{{56}}|{_HEX32}", 3.0),
    # --- Forms, documents and e-signature ---
    ("pandadoc-api-key", "PandaDoc", ("pandadoc",), _HEX40, 3.0),
    ("hellosign-api-key", "Dropbox Sign", ("hellosign", "dropbox_sign"), _HEX64, 3.0),
    ("docusign-integration-key", "DocuSign", ("docusign",), UUID, 3.0),
    ("jotform-api-key", "Jotform", ("jotform",), _HEX32, 3.0),
    # --- Events, sites and content ---
    ("eventbrite-token", "Eventbrite", ("eventbrite",), "[A-Z0-9]{20}", 3.0),
    ("ticketmaster-api-key", "Ticketmaster", ("ticketmaster",), f"{ALNUM}{{32}}", 3.0),
    ("squarespace-api-key", "Squarespace", ("squarespace",), UUID, 3.0),
    ("webflow-api-token", "Webflow", ("webflow",), _HEX64, 3.0),
    ("storyblok-token", "Storyblok", ("storyblok",), f"{ALNUM}{{22}}tt", 3.0),
    ("datocms-api-token", "DatoCMS", ("datocms",), f"{HEX}{{30}}", 3.0),
    ("buttercms-api-token", "ButterCMS", ("buttercms",), _HEX40, 3.0),
    # Ghost's Admin API key: the key's id, ":", its 64-hex secret.
    ("ghost-admin-api-key", "Ghost", ("ghost",), f"{HEX}{{24}}:{_HEX64}", 3.0),
    # --- IoT platforms ---
    ("thingsboard-access-token", "ThingsBoard", ("thingsboard",), f"{ALNUM}{{20}}", 3.0),
    ("particle-access-token", "Particle", ("particle",), f"{ALNUM}{{40}}", 3.0),
    ("agora-app-certificate", "Agora", ("agora",), _HEX32, 3.0),
)

RULES: Final[tuple[Rule, ...]] = (
    token("teamwork-api-token", "Teamwork", f"tkn\\.v1_{ALNUM}{{71}}=", "tkn.v1_", entropy=3.5),
    token("ubidots-token", "Ubidots", f"BBFF-{ALNUM}{{30}}", "bbff-", entropy=3.0),
    *(near(name, who, words, secret, entropy=floor) for name, who, words, secret, floor in _NEAR),
)
