"""AI model providers, data platforms and databases, analytics and search.

Written from each provider's published key formats (OpenAI's ``T3BlbkFJ`` marker,
Anthropic's ``sk-ant-``, Databricks' ``dapi``, ...).
"""

from __future__ import annotations

from typing import Final

from ..scanner import Rule
from ._forms import ALNUM, HEX, UUID, keyed, near, token

__all__ = ("RULES",)

RULES: Final[tuple[Rule, ...]] = (
    # --- AI model providers ---
    token(
        "openai-api-key",
        "OpenAI",
        "sk-(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_-]{20,200}T3BlbkFJ[A-Za-z0-9_-]{20,200}",
        "t3blbkfj",
    ),
    token("openai-legacy-key", "OpenAI", f"sk-{ALNUM}{{48}}", "sk-", entropy=4.0),
    # The "sk-" secret keys of the many APIs that copied OpenAI's (DeepSeek, Moonshot,
    # vLLM and LiteLLM proxies, ...), whatever follows: random enough, it is a key.
    token(
        "sk-style-api-key", "OpenAI-compatible APIs", "sk-[A-Za-z0-9_-]{20,200}", "sk-", entropy=3.5
    ),
    token(
        "anthropic-api-key",
        "Anthropic",
        "sk-ant-(?:api|admin|sid|oat|ort)[0-9]{2}-[A-Za-z0-9_-]{80,110}AA",
        "sk-ant-",
    ),
    token(
        "langsmith-api-key",
        "LangChain",
        f"lsv2_(?:pt|sk)_{HEX}{{32}}_{HEX}{{10}}",
        "lsv2_pt_",
        "lsv2_sk_",
    ),
    keyed("cohere-api-key", "Cohere", ("cohere", "co_api_key"), f"{ALNUM}{{40}}"),
    token("replicate-api-token", "Replicate", f"r8_{ALNUM}{{37}}", "r8_"),
    token("groq-api-key", "Groq", f"gsk_{ALNUM}{{52}}", "gsk_"),
    keyed("mistral-api-key", "Mistral AI", ("mistral",), f"{ALNUM}{{32}}"),
    token("perplexity-api-key", "Perplexity", f"pplx-{ALNUM}{{48}}", "pplx-"),
    token("xai-api-key", "xAI", f"xai-{ALNUM}{{80}}", "xai-"),
    keyed("deepseek-api-key", "DeepSeek", ("deepseek",), f"sk-{HEX}{{32}}"),
    token("openrouter-api-key", "OpenRouter", f"sk-or-v1-{HEX}{{64}}", "sk-or-v1-"),
    keyed("together-api-key", "Together AI", ("together",), f"{HEX}{{64}}"),
    keyed("fireworks-api-key", "Fireworks AI", ("fireworks",), "[A-Za-z0-9_]{24,60}", entropy=3.5),
    keyed("stability-api-key", "Stability AI", ("stability",), f"sk-{ALNUM}{{48}}"),
    keyed("assemblyai-api-key", "AssemblyAI", ("assemblyai", "assembly_ai"), f"{HEX}{{32}}"),
    keyed(
        "elevenlabs-api-key",
        "ElevenLabs",
        ("elevenlabs", "eleven_labs", "xi-api-key"),
        f"(?:sk_)?{HEX}{{32,48}}",
    ),
    token("elevenlabs-secret-key", "ElevenLabs", f"sk_{HEX}{{48}}", "sk_"),
    keyed("deepgram-api-key", "Deepgram", ("deepgram",), f"{HEX}{{40}}"),
    near("ai21-api-key", "AI21 Labs", ("ai21",), f"{UUID}|{ALNUM}{{32}}", entropy=3.0),
    near("clarifai-api-key", "Clarifai", ("clarifai",), f"{HEX}{{32}}|{ALNUM}{{32}}", entropy=3.0),
    token("cerebras-api-key", "Cerebras", f"csk-{ALNUM}{{32,60}}", "csk-", entropy=3.5),
    # --- Search, crawling and agents' tools ---
    token("firecrawl-api-key", "Firecrawl", f"fc-{HEX}{{32}}", "fc-"),
    token("jina-api-key", "Jina AI", "jina_[A-Za-z0-9_-]{40,80}", "jina_", entropy=3.5),
    token("apify-api-token", "Apify", f"apify_api_{ALNUM}{{36}}", "apify_api_"),
    token("tavily-api-key", "Tavily", f"tvly-(?:dev-|prod-)?{ALNUM}{{32}}", "tvly-"),
    near("serpapi-api-key", "SerpApi", ("serpapi", "serp_api"), f"{HEX}{{64}}"),
    near("scrapingbee-api-key", "ScrapingBee", ("scrapingbee",), "[A-Z0-9]{80}"),
    near("scraperapi-api-key", "ScraperAPI", ("scraperapi",), f"{HEX}{{32}}"),
    near("zenrows-api-key", "ZenRows", ("zenrows",), f"{HEX}{{40}}"),
    token("nvidia-api-key", "NVIDIA", "nvapi-[A-Za-z0-9_-]{64}", "nvapi-"),
    token("langfuse-secret-key", "Langfuse", f"sk-lf-{UUID}", "sk-lf-"),
    token("pinecone-api-key", "Pinecone", "pcsk_[A-Za-z0-9_]{40,100}", "pcsk_"),
    keyed("pinecone-legacy-key", "Pinecone", ("pinecone",), UUID),
    keyed("wandb-api-key", "Weights & Biases", ("wandb",), f"{HEX}{{40}}"),
    # --- Data platforms and databases ---
    token("databricks-token", "Databricks", f"dapi{HEX}{{32}}(?:-[0-9])?", "dapi"),
    token("databricks-oauth-secret", "Databricks", f"dose{HEX}{{32}}", "dose"),
    keyed(
        "snowflake-password",
        "Snowflake",
        ("snowflake",),
        "[!#-&(-:<-~]{8,128}",
        # Eight characters all different make 3.0 bits: a floor there would pass
        # over a quarter of random 8-character passwords.
        entropy=2.5,
    ),
    keyed("confluent-api-secret", "Confluent", ("confluent",), "[A-Za-z0-9+/]{64}"),
    token(
        "cloudinary-url",
        "Cloudinary",
        "cloudinary://[0-9]{10,20}:(?P<secret>[A-Za-z0-9_-]{20,40})@",
        "cloudinary://",
        boundary=False,
    ),
    # --- Search, maps, analytics ---
    keyed("algolia-admin-key", "Algolia", ("algolia",), f"{HEX}{{32}}"),
    token(
        "mapbox-secret-token",
        "Mapbox",
        "sk\\.eyJ1Ijoi[A-Za-z0-9_-]{10,200}\\.[A-Za-z0-9_-]{20,30}",
        "sk.eyj1ijoi",
    ),
    token("segment-api-token", "Segment", f"sgp_{ALNUM}{{64}}", "sgp_"),
    keyed("mixpanel-secret", "Mixpanel", ("mixpanel",), f"{HEX}{{32}}"),
    keyed("amplitude-secret", "Amplitude", ("amplitude",), f"{HEX}{{32}}"),
    keyed(
        "elastic-api-key",
        "Elastic",
        ("elastic",),
        "(?:essu_)?[A-Za-z0-9+/=_:-]{40,200}",
        entropy=3.5,
    ),
    keyed("typesense-api-key", "Typesense", ("typesense",), f"{ALNUM}{{32}}", entropy=3.0),
)
