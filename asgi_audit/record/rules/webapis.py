"""Data and web APIs: weather, maps and IP data, finance and crypto data, news and media,
sports and travel, enrichment and threat intelligence.

Written from each provider's published key formats. Almost none has a prefix of its own
(a 32-hex key, a UUID, 40 lower-case characters), so each is masked only a few words
after the provider's name (:func:`near`), as the public rule lists of secret scanners
find them: ``OPENWEATHER_API_KEY=...``, ``weatherstack key: ...``,
``https://api.bulbul.com/v1/users?key=...``.
"""

from __future__ import annotations

from typing import Final

from ..scanner import Rule
from ._forms import ALNUM, HEX, UUID, near, token

__all__ = ("RULES",)

_HEX32 = f"{HEX}{{32}}"
_HEX40 = f"{HEX}{{40}}"
_HEX64 = f"{HEX}{{64}}"
_LOWER = "[a-z0-9]"

#: (name, provider, the provider's words, the secret's shape, the entropy floor)
_NEAR: Final[tuple[tuple[str, str, tuple[str, ...], str, float], ...]] = (
    # --- Weather and air ---
    # OpenWeather's key is the "appid" of its URLs.
    (
        "openweather-api-key",
        "OpenWeather",
        ("openweather", "owm_api", "owm-api", "appid"),
        _HEX32,
        3.0,
    ),
    ("weatherstack-api-key", "Weatherstack", ("weatherstack",), f"{_LOWER}{{32}}", 3.0),
    ("weatherbit-api-key", "Weatherbit", ("weatherbit",), f"{_LOWER}{{32}}", 3.0),
    ("weatherapi-key", "WeatherAPI", ("weatherapi",), f"{HEX}{{30,32}}", 3.0),
    (
        "tomorrowio-api-key",
        "Tomorrow.io",
        ("tomorrow.io", "tomorrowio", "tomorrow_io"),
        f"{ALNUM}{{32}}",
        3.0,
    ),
    ("accuweather-api-key", "AccuWeather", ("accuweather",), "[A-Za-z0-9%]{32,35}", 3.0),
    ("visualcrossing-api-key", "Visual Crossing", ("visualcrossing",), "[A-Z0-9]{25}", 3.0),
    ("airvisual-api-key", "IQAir AirVisual", ("airvisual", "iqair"), "[a-z0-9-]{36}", 3.0),
    ("ambee-api-key", "Ambee", ("ambee",), _HEX64, 3.0),
    # --- Maps, places and IP data ---
    ("ipinfo-token", "IPinfo", ("ipinfo",), f"{HEX}{{14}}", 2.5),
    ("ipstack-api-key", "ipstack", ("ipstack",), _HEX32, 3.0),
    ("ipgeolocation-api-key", "IPGeolocation", ("ipgeolocation",), _HEX32, 3.0),
    ("abuseipdb-api-key", "AbuseIPDB", ("abuseipdb",), f"{HEX}{{80}}", 3.0),
    ("opencage-api-key", "OpenCage", ("opencage",), _HEX32, 3.0),
    ("geoapify-api-key", "Geoapify", ("geoapify",), _HEX32, 3.0),
    ("positionstack-api-key", "positionstack", ("positionstack",), _HEX32, 3.0),
    ("locationiq-token", "LocationIQ", ("locationiq",), f"pk\\.{_HEX32}", 3.0),
    ("tomtom-api-key", "TomTom", ("tomtom",), f"{ALNUM}{{32}}", 3.0),
    ("here-api-key", "HERE", ("hereapi", "here_api", "here-api"), "[A-Za-z0-9_-]{43}", 3.5),
    ("graphhopper-api-key", "GraphHopper", ("graphhopper",), UUID, 3.0),
    # --- Finance and crypto data ---
    ("finnhub-api-key", "Finnhub", ("finnhub",), f"{_LOWER}{{20}}", 3.0),
    (
        "alphavantage-api-key",
        "Alpha Vantage",
        ("alphavantage", "alpha_vantage"),
        "[A-Z0-9]{16}",
        3.0,
    ),
    (
        "polygon-io-api-key",
        "Polygon.io",
        ("polygon.io", "polygonio", "polygon_api"),
        "[A-Za-z0-9_]{32}",
        3.0,
    ),
    ("twelvedata-api-key", "Twelve Data", ("twelvedata",), f"{_LOWER}{{32}}", 3.0),
    ("tiingo-api-key", "Tiingo", ("tiingo",), f"{_LOWER}{{40}}", 3.0),
    ("iexcloud-token", "IEX Cloud", ("iexcloud", "iex_cloud", "iex_token"), f"[sp]k_{_HEX32}", 3.0),
    (
        "financialmodelingprep-api-key",
        "Financial Modeling Prep",
        ("financialmodelingprep", "fmp_api"),
        f"{ALNUM}{{32}}",
        3.0,
    ),
    ("marketstack-api-key", "marketstack", ("marketstack",), _HEX32, 3.0),
    ("fixer-api-key", "Fixer", ("fixer.io", "fixerio", "fixer_api"), f"{ALNUM}{{32}}", 3.0),
    ("currencylayer-api-key", "currencylayer", ("currencylayer",), _HEX32, 3.0),
    (
        "openexchangerates-app-id",
        "Open Exchange Rates",
        ("openexchangerates", "oxr_app"),
        _HEX32,
        3.0,
    ),
    ("exchangerate-api-key", "ExchangeRate-API", ("exchangerate",), f"{HEX}{{24}}", 3.0),
    (
        "etherscan-api-key",
        "Etherscan",
        ("etherscan", "bscscan", "polygonscan"),
        "[A-Z0-9]{34}",
        3.0,
    ),
    ("infura-api-key", "Infura", ("infura",), _HEX32, 3.0),
    ("alchemy-api-key", "Alchemy", ("alchemy",), "[A-Za-z0-9_-]{32}", 3.0),
    ("coinmarketcap-api-key", "CoinMarketCap", ("coinmarketcap", "cmc_pro"), UUID, 3.0),
    ("cryptocompare-api-key", "CryptoCompare", ("cryptocompare",), _HEX64, 3.0),
    ("bitfinex-api-key", "Bitfinex", ("bitfinex",), "[A-Za-z0-9_-]{43}", 3.5),
    ("bittrex-api-key", "Bittrex", ("bittrex",), f"{ALNUM}{{32}}", 3.0),
    # --- News, media and social data ---
    ("newsapi-key", "NewsAPI", ("newsapi",), _HEX32, 3.0),
    (
        "nytimes-api-key",
        "The New York Times",
        ("nytimes", "newyorktimes"),
        "[A-Za-z0-9_-]{32}",
        3.0,
    ),
    ("tmdb-api-key", "TMDB", ("tmdb", "themoviedb"), _HEX32, 3.0),
    ("unsplash-access-key", "Unsplash", ("unsplash",), "[A-Za-z0-9_-]{43}", 3.5),
    ("pexels-api-key", "Pexels", ("pexels",), f"{ALNUM}{{56}}", 3.5),
    ("giphy-api-key", "GIPHY", ("giphy",), f"{ALNUM}{{32}}", 3.0),
    ("vimeo-token", "Vimeo", ("vimeo",), _HEX32, 3.0),
    ("strava-client-secret", "Strava", ("strava",), _HEX40, 3.0),
    ("rapidapi-key", "RapidAPI", ("rapidapi",), "[A-Za-z0-9_-]{50}", 3.5),
    # --- Sports and travel ---
    ("allsports-api-key", "AllSports", ("allsports",), f"{_LOWER}{{64}}", 3.0),
    ("the-odds-api-key", "The Odds API", ("theoddsapi", "the-odds-api", "odds_api"), _HEX32, 3.0),
    ("amadeus-api-key", "Amadeus", ("amadeus",), f"{ALNUM}{{32}}", 3.0),
    ("amadeus-api-secret", "Amadeus", ("amadeus",), f"{ALNUM}{{16}}", 3.0),
    ("aviationstack-api-key", "aviationstack", ("aviationstack",), _HEX32, 3.0),
    # --- Enrichment, e-mail checks and threat intelligence ---
    ("bulbul-api-key", "Bulbul", ("bulbul",), f"{_LOWER}{{32}}", 3.0),
    ("clearbit-api-key", "Clearbit", ("clearbit",), f"sk_{_HEX32}", 3.0),
    ("abstractapi-key", "Abstract API", ("abstractapi",), _HEX32, 3.0),
    ("zerobounce-api-key", "ZeroBounce", ("zerobounce",), _HEX32, 3.0),
    ("neverbounce-api-key", "NeverBounce", ("neverbounce",), f"(?:secret|private)_{_HEX32}", 3.0),
    ("hunter-api-key", "Hunter", ("hunter.io", "hunterio", "hunter_api"), _HEX40, 3.0),
    ("censys-api-secret", "Censys", ("censys",), f"{ALNUM}{{32}}|{UUID}", 3.0),
    ("securitytrails-api-key", "SecurityTrails", ("securitytrails",), f"{ALNUM}{{32}}", 3.0),
    ("urlscan-api-key", "urlscan.io", ("urlscan",), UUID, 3.0),
)

RULES: Final[tuple[Rule, ...]] = (
    # CoinGecko's keys carry their prefix: "CG-" and 24 random characters.
    token("coingecko-api-key", "CoinGecko", f"CG-{ALNUM}{{24}}", "cg-", entropy=3.5),
    *(near(name, who, words, secret, entropy=floor) for name, who, words, secret, floor in _NEAR),
)
