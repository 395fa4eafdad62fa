"""Observability: metrics, logs, traces, error tracking, alerting and uptime.

Written from each provider's published key formats (Datadog's API and application
keys, New Relic's ``NRAK-`` family, Dynatrace's ``dt0c01.``, Grafana's ``glc_``, ...).
"""

from __future__ import annotations

from typing import Final

from ..scanner import Rule
from ._forms import ALNUM, HEX, UUID, keyed, token

__all__ = ("RULES",)

RULES: Final[tuple[Rule, ...]] = (
    # --- Datadog ---
    keyed("datadog-api-key", "Datadog", ("datadog", "dd_api_key", "dd-api-key"), f"{HEX}{{32}}"),
    keyed(
        "datadog-app-key",
        "Datadog",
        ("datadog", "dd_app_key", "dd-application-key", "dd_application_key"),
        f"{HEX}{{40}}",
    ),
    # --- New Relic ---
    # The prefixes are written in capitals; tools and people also write them in lower case.
    token("newrelic-user-api-key", "New Relic", f"(?i:nrak)-{ALNUM}{{27}}", "nrak-"),
    token("newrelic-admin-api-key", "New Relic", f"(?i:nraa)-{ALNUM}{{27}}", "nraa-"),
    token("newrelic-rest-api-key", "New Relic", f"(?i:nrra)-{HEX}{{42}}", "nrra-"),
    token("newrelic-browser-key", "New Relic", f"(?i:nrjs)-{HEX}{{19}}", "nrjs-"),
    token(
        "newrelic-insights-key",
        "New Relic",
        "(?i:nri[iq])-[A-Za-z0-9_-]{32}",
        "nrii-",
        "nriq-",
    ),
    token("newrelic-license-key", "New Relic", f"{HEX}{{36}}(?i:nral)", "nral"),
    token(
        "pixie-api-key",
        "Pixie",
        f"px-(?:api|dep)-{UUID}",
        "px-api-",
        "px-dep-",
    ),
    # --- Error tracking ---
    token("sentry-org-token", "Sentry", "sntrys_eyJ[A-Za-z0-9+/=_-]{60,400}", "sntrys_"),
    token("sentry-user-token", "Sentry", f"sntryu_{HEX}{{64}}", "sntryu_"),
    keyed("sentry-auth-token", "Sentry", ("sentry",), f"{HEX}{{64}}"),
    keyed("rollbar-access-token", "Rollbar", ("rollbar",), f"{HEX}{{32}}"),
    keyed("bugsnag-api-key", "Bugsnag", ("bugsnag",), f"{HEX}{{32}}"),
    keyed("raygun-api-key", "Raygun", ("raygun",), f"{ALNUM}{{22,24}}", entropy=3.0),
    keyed("airbrake-api-key", "Airbrake", ("airbrake",), f"{HEX}{{32,40}}"),
    token("honeybadger-token", "Honeybadger", f"hbp_{ALNUM}{{36}}", "hbp_"),
    # --- Dashboards, APM ---
    token("grafana-cloud-token", "Grafana", "glc_[A-Za-z0-9+/]{32,400}={0,2}", "glc_"),
    token(
        "grafana-service-account-token",
        "Grafana",
        f"glsa_{ALNUM}{{32}}_{HEX}{{8}}",
        "glsa_",
    ),
    token("grafana-api-key", "Grafana", "eyJrIjoi[A-Za-z0-9+/]{50,100}={0,2}", "eyjrijoi"),
    token(
        "dynatrace-token",
        "Dynatrace",
        "dt0(?:c01|s[0-9]{2})\\.[A-Z0-9]{24}\\.[A-Z0-9]{64}",
        "dt0c01.",
        "dt0s",
    ),
    keyed("instana-api-token", "Instana", ("instana",), "[A-Za-z0-9_-]{22}", entropy=3.0),
    keyed("lightstep-token", "Lightstep", ("lightstep",), "[A-Za-z0-9+/=]{40,300}", entropy=3.5),
    token(
        "honeycomb-key",
        "Honeycomb",
        "hc(?:aik|xik|amk|xmk|bik|cik)_[A-Za-z0-9]{50,70}",
        "hcaik_",
        "hcxik_",
        "hcamk_",
        "hcxmk_",
        "hcbik_",
        "hccik_",
    ),
    keyed(
        "honeycomb-legacy-key",
        "Honeycomb",
        ("honeycomb",),
        f"{HEX}{{32}}|{ALNUM}{{22}}",
        entropy=3.0,
    ),
    # --- Logs ---
    keyed("splunk-hec-token", "Splunk", ("splunk", "hec_token", "hec-token"), UUID),
    keyed(
        "splunk-observability-token",
        "Splunk",
        ("signalfx", "sfx_token", "x-sf-token"),
        "[A-Za-z0-9_-]{22}",
    ),
    keyed("mezmo-ingestion-key", "Mezmo", ("logdna", "mezmo"), f"{HEX}{{32}}"),
    keyed("loggly-token", "Loggly", ("loggly",), UUID),
    keyed("papertrail-token", "Papertrail", ("papertrail",), f"{ALNUM}{{20}}", entropy=3.0),
    keyed("sumologic-access-id", "Sumo Logic", ("sumo",), f"su{ALNUM}{{12}}"),
    keyed("sumologic-access-key", "Sumo Logic", ("sumo",), f"{ALNUM}{{64}}"),
    keyed(
        "coralogix-key",
        "Coralogix",
        ("coralogix",),
        "(?:cx[a-z]{2}_)?[A-Za-z0-9]{30,40}",
        entropy=3.0,
    ),
    token("axiom-token", "Axiom", f"xa[ap]t-{UUID}", "xaat-", "xapt-"),
    keyed(
        "betterstack-token",
        "Better Stack",
        ("betterstack", "better_stack", "logtail", "betteruptime"),
        f"{ALNUM}{{24,32}}",
        entropy=3.0,
    ),
    # --- Alerting, uptime ---
    keyed(
        "pagerduty-token",
        "PagerDuty",
        ("pagerduty", "pd_token", "pd_api"),
        "(?:u\\+)?[A-Za-z0-9_+-]{18,20}",
        entropy=3.0,
    ),
    keyed("opsgenie-api-key", "Opsgenie", ("opsgenie", "geniekey"), UUID),
    keyed("checkly-api-key", "Checkly", ("checkly",), f"cu_{HEX}{{32}}"),
)
