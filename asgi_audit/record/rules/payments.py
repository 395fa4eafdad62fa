"""Payments, commerce, banking data and crypto exchanges.

Written from each provider's published key formats (Stripe's ``sk_live_``, Square's
``sq0`` prefixes, Shopify's ``shp`` tokens, ...).
"""

from __future__ import annotations

from typing import Final

from ..scanner import Rule
from ._forms import ALNUM, HEX, UUID, keyed, near, token

__all__ = ("RULES",)

RULES: Final[tuple[Rule, ...]] = (
    # --- Stripe ---
    token(
        "stripe-secret-key",
        "Stripe",
        f"sk_(?:live|test)_{ALNUM}{{24,247}}",
        "sk_live_",
        "sk_test_",
    ),
    token(
        "stripe-restricted-key",
        "Stripe",
        f"rk_(?:live|test)_{ALNUM}{{24,247}}",
        "rk_live_",
        "rk_test_",
    ),
    token("stripe-webhook-secret", "Stripe", "whsec_[A-Za-z0-9+/=]{32,88}", "whsec_"),
    # --- Square ---
    token("square-access-token", "Square", "sq0atp-[A-Za-z0-9_-]{22}", "sq0atp-"),
    token("square-oauth-secret", "Square", "sq0csp-[A-Za-z0-9_-]{43}", "sq0csp-"),
    token("square-eaaa-token", "Square", "EAAA[A-Za-z0-9_-]{60}", "eaaa"),
    # --- PayPal, Braintree, Adyen and other processors ---
    token(
        "braintree-access-token",
        "Braintree",
        f"access_token\\$(?:production|sandbox)\\$[a-z0-9]{{16}}\\${HEX}{{32}}",
        "access_token$",
    ),
    keyed("braintree-private-key", "Braintree", ("braintree",), f"{HEX}{{32}}"),
    # A tokenization key: the environment, the merchant's 8 characters, 16 random ones.
    token(
        "braintree-tokenization-key",
        "Braintree",
        "(?:sandbox|production)_[a-z0-9]{8}_[a-z0-9]{16}",
        "sandbox_",
        "production_",
        entropy=3.0,
    ),
    near("paypal-client-secret", "PayPal", ("paypal",), "[A-Za-z0-9_.-]{44,80}", entropy=3.5),
    token("adyen-api-key", "Adyen", "AQE[A-Za-z0-9+/=._:;%{}-]{80,300}", "aqe", entropy=4.0),
    keyed(
        "checkout-secret-key",
        "Checkout.com",
        ("checkout",),
        "sk_(?:sbox_)?[a-z0-9]{26}",
    ),
    token("checkout-sandbox-key", "Checkout.com", "sk_sbox_[a-z0-9]{26}", "sk_sbox_"),
    keyed(
        "authorize-net-transaction-key",
        "Authorize.net",
        ("authorize.net", "authorizenet", "transaction_key", "transactionkey"),
        f"{ALNUM}{{16}}",
    ),
    keyed("klarna-api-secret", "Klarna", ("klarna",), "[A-Za-z0-9_-]{30,120}", entropy=3.5),
    token(
        "mollie-api-key",
        "Mollie",
        f"(?:live|test)_{ALNUM}{{30}}",
        "live_",
        "test_",
        entropy=3.5,
    ),
    token("mollie-access-token", "Mollie", f"access_{ALNUM}{{40}}", "access_", entropy=3.5),
    keyed("gocardless-token", "GoCardless", ("gocardless",), "(?:live|sandbox)_[A-Za-z0-9_=-]{40}"),
    token(
        "paddle-api-key",
        "Paddle",
        "pdl_(?:live|sdbx)_apikey_[a-z0-9]{26}_[A-Za-z0-9]{20,30}_[A-Za-z0-9]{3}",
        "pdl_live_",
        "pdl_sdbx_",
    ),
    keyed("recurly-api-key", "Recurly", ("recurly",), f"{HEX}{{32}}"),
    keyed("chargebee-api-key", "Chargebee", ("chargebee",), "(?:live|test)_[A-Za-z0-9]{26,40}"),
    keyed("wise-api-token", "Wise", ("transferwise", "wise_"), UUID),
    # --- Regional processors ---
    keyed("razorpay-key-secret", "Razorpay", ("razorpay",), f"{ALNUM}{{24}}"),
    token(
        "razorpay-key-id", "Razorpay", f"rzp_(?:live|test)_{ALNUM}{{14}}", "rzp_live_", "rzp_test_"
    ),
    token(
        "flutterwave-secret-key",
        "Flutterwave",
        f"FLWSECK(?:_TEST)?-{HEX}{{32}}-X",
        "flwseck",
    ),
    token(
        "paystack-secret-key",
        "Paystack",
        f"sk_(?:live|test)_{HEX}{{40}}",
        "sk_live_",
        "sk_test_",
    ),
    token(
        "xendit-secret-key",
        "Xendit",
        "xnd_(?:production|development)_[A-Za-z0-9]{50,80}",
        "xnd_production_",
        "xnd_development_",
    ),
    token("midtrans-server-key", "Midtrans", "(?:SB-)?Mid-server-[A-Za-z0-9_-]{24}", "mid-server-"),
    # --- Commerce ---
    token("shopify-access-token", "Shopify", f"shpat_{HEX}{{32}}", "shpat_"),
    token("shopify-shared-secret", "Shopify", f"shpss_{HEX}{{32}}", "shpss_"),
    token("shopify-custom-app-token", "Shopify", f"shpca_{HEX}{{32}}", "shpca_"),
    token("shopify-private-app-token", "Shopify", f"shppa_{HEX}{{32}}", "shppa_"),
    # --- Banking data ---
    token(
        "plaid-access-token",
        "Plaid",
        f"access-(?:sandbox|development|production)-{UUID}",
        "access-sandbox-",
        "access-development-",
        "access-production-",
    ),
    keyed("plaid-secret", "Plaid", ("plaid",), f"{HEX}{{30}}"),
    # --- Crypto exchanges and brokers ---
    keyed("coinbase-api-secret", "Coinbase", ("coinbase",), f"{ALNUM}{{64}}|{ALNUM}{{32}}"),
    keyed("binance-api-secret", "Binance", ("binance",), f"{ALNUM}{{64}}"),
    keyed("kraken-private-key", "Kraken", ("kraken",), "[A-Za-z0-9+/]{86,88}={0,2}"),
    keyed("kucoin-api-secret", "KuCoin", ("kucoin",), UUID),
    keyed("alpaca-secret-key", "Alpaca", ("alpaca", "apca"), f"{ALNUM}{{40}}"),
)
