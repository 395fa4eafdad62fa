"""Chat, e-mail, SMS and voice, push, social networks, customer support.

Written from each provider's published token formats (Slack's ``xox`` prefixes,
Twilio's SIDs, SendGrid's ``SG.`` keys, ...).
"""

from __future__ import annotations

from typing import Final

from ..scanner import Rule
from ._forms import ALNUM, HEX, UUID, keyed, near, token

__all__ = ("RULES",)

RULES: Final[tuple[Rule, ...]] = (
    # --- Slack ---
    token("slack-bot-token", "Slack", "xoxb-[0-9]{10,13}-[0-9]{10,13}-[A-Za-z0-9]{24,34}", "xoxb-"),
    token(
        "slack-user-token",
        "Slack",
        f"xoxp-[0-9]{{10,13}}-[0-9]{{10,13}}-[0-9]{{10,13}}-{HEX}{{28,34}}",
        "xoxp-",
    ),
    token(
        "slack-app-token",
        "Slack",
        f"xapp-[0-9]-[A-Z0-9]{{9,11}}-[0-9]{{10,13}}-{HEX}{{64}}",
        "xapp-",
    ),
    token(
        "slack-config-token",
        "Slack",
        "xoxe\\.xox[bp]-[0-9]-[A-Za-z0-9]{150,180}",
        "xoxe.xoxb-",
        "xoxe.xoxp-",
    ),
    token("slack-refresh-token", "Slack", "xoxe-[0-9]-[A-Za-z0-9]{130,160}", "xoxe-"),
    # Legacy and workspace tokens, and bot and user tokens of two parts after the prefix
    # (xoxb-<digits>-<random>), as the older apps were issued them.
    token(
        "slack-legacy-token",
        "Slack",
        "xox[abposr]-[0-9]{1,14}-[A-Za-z0-9-]{10,200}",
        "xoxa-",
        "xoxb-",
        "xoxo-",
        "xoxp-",
        "xoxr-",
        "xoxs-",
        entropy=3.0,
    ),
    token(
        "slack-webhook-url",
        "Slack",
        "hooks\\.slack\\.com/(?:services|workflows|triggers)/(?P<secret>[A-Za-z0-9/]{30,120})",
        "hooks.slack.com/",
        boundary=False,
    ),
    # --- Discord, Telegram, Teams and other chat ---
    token(
        "discord-webhook-url",
        "Discord",
        "discord(?:app)?\\.com/api/webhooks/[0-9]{17,20}/(?P<secret>[A-Za-z0-9_-]{60,68})",
        "discord",
        boundary=False,
    ),
    near(
        "discord-bot-token",
        "Discord",
        ("discord",),
        "[A-Za-z0-9_-]{23,28}\\.[A-Za-z0-9_-]{6,7}\\.[A-Za-z0-9_-]{27,40}",
    ),
    # Also in a bot API URL, after "bot" (api.telegram.org/bot<id>:<token>/getMe).
    # The bot's id (5 to 16 digits), a colon, 35 characters; also 33 and 34.
    token(
        "telegram-bot-token",
        "Telegram",
        "[0-9]{5,16}:AA[A-Za-z0-9_-]{31,33}",
        ":aa",
        boundary=False,
    ),
    near(
        "telegram-bot-token-keyed",
        "Telegram",
        ("telegram", "tg_bot", "tg-bot"),
        "[0-9]{5,16}:[A-Za-z0-9_-]{30,40}",
    ),
    token(
        "teams-webhook-url",
        "Microsoft Teams",
        "(?:webhook\\.office\\.com/webhookb2|outlook\\.office(?:365)?\\.com/webhook)/"
        "(?P<secret>[A-Za-z0-9@/_-]{100,300})",
        "webhook.office.com/",
        "outlook.office.com/webhook/",
        "outlook.office365.com/webhook/",
        boundary=False,
    ),
    keyed("mattermost-token", "Mattermost", ("mattermost",), "[a-z0-9]{26}"),
    keyed("zulip-api-key", "Zulip", ("zulip",), f"{ALNUM}{{32}}"),
    token(
        "google-chat-webhook",
        "Google Cloud",
        "chat\\.googleapis\\.com/v1/spaces/[A-Za-z0-9_-]{6,20}/messages\\?key=[A-Za-z0-9_-]{39}"
        "&token=(?P<secret>[A-Za-z0-9_%=-]{40,80})",
        "chat.googleapis.com/",
        boundary=False,
    ),
    keyed("webex-token", "Webex", ("webex",), "[A-Za-z0-9_-]{64,200}", entropy=3.5),
    keyed("zoom-secret", "Zoom", ("zoom",), "[A-Za-z0-9_-]{20,40}", entropy=3.5),
    keyed(
        "line-channel-secret",
        "LINE",
        ("line_channel", "line-channel", "linechannel", "line_bot", "line-bot"),
        "[A-Za-z0-9+/=]{32,200}",
        entropy=3.5,
    ),
    # --- SMS, voice, realtime ---
    token("twilio-api-key-sid", "Twilio", f"SK{HEX}{{32}}", "sk"),
    token("twilio-account-sid", "Twilio", f"AC{HEX}{{32}}", "ac"),
    near("twilio-auth-token", "Twilio", ("twilio",), f"{HEX}{{32}}|{ALNUM}{{32}}", entropy=3.0),
    keyed("vonage-api-secret", "Vonage", ("nexmo", "vonage"), f"{ALNUM}{{16}}", entropy=3.0),
    keyed("plivo-auth-token", "Plivo", ("plivo",), f"{ALNUM}{{40}}"),
    token("telnyx-api-key", "Telnyx", "KEY[0-9A-Z]{32}_[A-Za-z0-9]{22}", "key"),
    keyed("messagebird-api-key", "MessageBird", ("messagebird", "message_bird"), f"{ALNUM}{{25}}"),
    keyed("pusher-secret", "Pusher", ("pusher",), f"{HEX}{{20}}"),
    keyed(
        "ably-api-key",
        "Ably",
        ("ably",),
        "[A-Za-z0-9_-]{6}\\.[A-Za-z0-9_-]{6}:[A-Za-z0-9_-]{43}",
    ),
    keyed("pushover-token", "Pushover", ("pushover",), "[a-z0-9]{30}"),
    near("pushbullet-token", "Pushbullet", ("pushbullet",), f"o\\.{ALNUM}{{32}}"),
    near("sendbird-api-token", "Sendbird", ("sendbird",), f"{HEX}{{40}}"),
    near("textmagic-api-key", "TextMagic", ("textmagic",), f"{ALNUM}{{30}}", entropy=3.0),
    token("pubnub-secret-key", "PubNub", "sec-c-[A-Za-z0-9+/=]{40,80}", "sec-c-", entropy=3.5),
    token(
        "zapier-webhook-url",
        "Zapier",
        "hooks\\.zapier\\.com/hooks/catch/[0-9]{3,12}/(?P<secret>[A-Za-z0-9]{5,12})",
        "hooks.zapier.com/",
        boundary=False,
    ),
    keyed(
        "onesignal-api-key",
        "OneSignal",
        ("onesignal",),
        "os_v2_(?:app|org)_[A-Za-z0-9]{50,120}|[A-Za-z0-9]{48}",
    ),
    # --- E-mail ---
    token(
        "sendgrid-api-key",
        "SendGrid",
        "SG\\.[A-Za-z0-9_-]{22}\\.[A-Za-z0-9_-]{43}",
        "sg.",
    ),
    token("mailgun-api-key", "Mailgun", f"key-{ALNUM}{{32}}", "key-", entropy=3.0),
    keyed(
        "mailgun-private-key",
        "Mailgun",
        ("mailgun",),
        f"{HEX}{{32}}-{HEX}{{8}}-{HEX}{{8}}",
    ),
    keyed(
        "mailgun-signing-key",
        "Mailgun",
        ("mailgun", "webhook_signing", "webhook-signing", "webhooksigning"),
        f"{HEX}{{32}}",
    ),
    token("mailchimp-api-key", "Mailchimp", f"{HEX}{{32}}-us[0-9]{{1,2}}", "-us"),
    token("mandrill-api-key", "Mailchimp", "md-[A-Za-z0-9_-]{22}", "md-", entropy=3.5),
    keyed(
        "postmark-token",
        "Postmark",
        ("postmark",),
        UUID,
    ),
    keyed("mailjet-secret", "Mailjet", ("mailjet", "mj_apikey", "mj-apikey"), f"{HEX}{{32}}"),
    keyed("sparkpost-api-key", "SparkPost", ("sparkpost",), f"{HEX}{{40}}"),
    token(
        "brevo-api-key",
        "Brevo",
        f"x(?:keysib|smtpsib)-{HEX}{{64}}-{ALNUM}{{16}}",
        "xkeysib-",
        "xsmtpsib-",
    ),
    token("resend-api-key", "Resend", f"re_{ALNUM}{{8}}_{ALNUM}{{24}}", "re_"),
    token("mailersend-api-token", "MailerSend", f"mlsn\\.{HEX}{{64}}", "mlsn."),
    # --- Customer support, CRM ---
    token("intercom-access-token", "Intercom", "dG9rOj[A-Za-z0-9+/]{40,80}={0,2}", "dg9roj"),
    keyed("zendesk-api-token", "Zendesk", ("zendesk",), f"{ALNUM}{{40}}"),
    keyed("freshdesk-api-key", "Freshdesk", ("freshdesk",), f"{ALNUM}{{20}}"),
    token("hubspot-private-app-token", "HubSpot", f"pat-(?:na|eu)[0-9]-{UUID}", "pat-na", "pat-eu"),
    keyed("hubspot-api-key", "HubSpot", ("hubspot", "hapikey"), UUID),
    # --- Social networks and media ---
    token("facebook-access-token", "Meta", "EAA[A-Za-z0-9]{100,400}", "eaa", entropy=3.5),
    keyed(
        "facebook-app-secret",
        "Meta",
        ("facebook", "fb_app_secret", "fb-app-secret", "fb_secret"),
        f"{HEX}{{32}}",
    ),
    token(
        "twitter-bearer-token",
        "X (Twitter)",
        "A{20,22}[A-Za-z0-9%]{30,200}",
        "aaaaaaaaaaaaaaaaaaaa",
        entropy=3.0,
    ),
    keyed("twitter-api-secret", "X (Twitter)", ("twitter",), f"{ALNUM}{{35,50}}"),
    keyed("linkedin-client-secret", "LinkedIn", ("linkedin",), f"{ALNUM}{{16}}", entropy=3.0),
    keyed("reddit-client-secret", "Reddit", ("reddit",), "[A-Za-z0-9_-]{27,30}", entropy=3.5),
    keyed("spotify-client-secret", "Spotify", ("spotify",), f"{HEX}{{32}}"),
)
