"""Credentials by their place rather than their issuer: connection strings, URIs with a
password, command lines, HTTP authorization headers, private keys and JSON Web Tokens.

The secret is the password or the header's value; the user, the host and the command
stay readable.
"""

from __future__ import annotations

from typing import Final

from ..scanner import Rule
from ._forms import token

__all__ = ("RULES",)

#: RFC 3986 userinfo characters, without ``:`` (the user) and with it (the password); the
#: password also takes the characters a password holds unencoded (``#^{}|<>[]``), not ``/``.
_URI_USER = "[A-Za-z0-9_.~%!$&'()*+,;=-]{0,128}"
_URI_CREDENTIAL = "[A-Za-z0-9_.~%!$&'()*+,;=:#^{}|<>\\[\\]-]{1,256}"
#: A password on a command line or in an option: printable ASCII but a space or a quote.
_WORD = "[!#-&(-~]{1,128}"
#: An option's value up to ``;``, ``,``, ``&``, a quote or a space.
_VALUE = "[!#-%(-+\\-./0-9:<-~]{1,128}"


def _uri(name: str, provider: str, scheme: str, *keywords: str) -> Rule:
    pattern = f"(?i:{scheme})://{_URI_USER}:(?P<secret>{_URI_CREDENTIAL})@"
    return token(name, provider, pattern, *keywords, boundary=False)


RULES: Final[tuple[Rule, ...]] = (
    # --- URIs with a password: scheme://user:PASSWORD@host ---
    _uri("mongodb-uri-password", "MongoDB", "mongodb(?:\\+srv)?", "mongodb"),
    _uri(
        "postgres-uri-password", "PostgreSQL", "postgres(?:ql)?(?:\\+[a-z0-9]{1,12})?", "postgres"
    ),
    _uri(
        "mysql-uri-password", "MySQL", "mysql(?:x|\\+[a-z0-9]{1,12})?|mariadb", "mysql", "mariadb"
    ),
    _uri("redis-uri-password", "Redis", "rediss?", "redis"),
    _uri("amqp-uri-password", "RabbitMQ", "amqps?", "amqp"),
    _uri("snowflake-uri-password", "Snowflake", "snowflake", "snowflake"),
    _uri("uri-password", "generic", "[a-z][a-z0-9+.-]{1,20}", "://"),
    # --- Connection strings ---
    token(
        "jdbc-password",
        "generic",
        "(?i:jdbc:[a-z0-9]{2,20}:)[A-Za-z0-9_.~%:/?;&=@,+\\[\\]()-]{0,300}"
        f"(?i:[;?&]password=)(?P<secret>{_VALUE})",
        "jdbc:",
        boundary=False,
    ),
    token(
        "jdbc-oracle-thin-password",
        "generic",
        "(?i:jdbc:oracle:thin:)[A-Za-z0-9_$#.]{1,64}/(?P<secret>[A-Za-z0-9_.~%!$*+:#^=-]{1,128})@",
        "jdbc:oracle:thin:",
        boundary=False,
    ),
    token(
        "odbc-password",
        "generic",
        "(?i:;[ \\t]{0,2}(?:password|pwd)[ \\t]{0,2}=[ \\t]{0,2})"
        "(?P<secret>\\{[ !-z|~]{1,128}\\}|[!#-&(-:<-~]{1,128})",
        "password",
        "pwd",
        boundary=False,
    ),
    # --- Command lines ---
    token(
        "curl-user-password",
        "generic",
        "(?i:curl)(?:[ \\t][ -~]{0,512})?[ \\t](?:-u|--user)[ \\t=]{0,4}[\"']?"
        f"[A-Za-z0-9_.@+%-]{{1,128}}:(?P<secret>{_WORD})",
        "curl",
    ),
    token(
        "mysql-cli-password",
        "MySQL",
        f"(?i:mysql[a-z]{{0,8}}|mariadb(?:-[a-z]{{1,8}})?)(?:[ \\t][ -~]{{0,256}})?[ \\t]-p"
        f"(?P<secret>{_WORD})",
        "mysql",
        "mariadb",
    ),
    token(
        "sshpass-password",
        "generic",
        f"(?i:sshpass)[ \\t]{{1,4}}-p[ \\t]{{0,4}}[\"']?(?P<secret>{_WORD})",
        "sshpass",
    ),
    token(
        "cli-password-option",
        "generic",
        "(?i:--[a-z0-9-]{0,24}(?:password|passwd|pass|secret|token|api-key|apikey))"
        f"[ \\t=]{{1,4}}[\"']?(?P<secret>{_WORD})",
        "pass",
        "secret",
        "token",
        "key",
    ),
    # --- HTTP authorization ---
    token(
        "http-authorization-header",
        "generic",
        "(?i:(?:proxy-)?authorization)[\"']?[ \\t]{0,4}[:=][ \\t]{0,4}[\"']?"
        "(?:(?i:bearer|basic|token|apikey|api-key|bot|splunk|geniekey|ssws|sso-key|key|otp"
        "|hmac|negotiate|ntlm)[ \\t]{1,4})?"
        "(?P<secret>[A-Za-z0-9_.~+/=:,-]{0,4096}[0-9][A-Za-z0-9_.~+/=:,-]{0,4096})",
        "authorization",
        entropy=3.0,
    ),
    token(
        "http-bearer-token",
        "generic",
        "(?i:bearer)[ \\t]{1,4}(?P<secret>[A-Za-z0-9_.~+/-]{16,4096}={0,2})",
        "bearer",
        entropy=3.0,
    ),
    token(
        "http-basic-credentials",
        "generic",
        "(?i:basic)[ \\t]{1,4}"
        "(?P<secret>[A-Za-z0-9+/]{1,1024}[A-Z0-9+/][A-Za-z0-9+/]{0,1024}={0,2})",
        "basic",
        entropy=3.0,
    ),
    token(
        "http-digest-response",
        "generic",
        '(?i:digest)[ \\t][ -~]{0,1024}(?i:response)="?(?P<secret>[0-9a-fA-F]{32,128})',
        "digest",
    ),
    token(
        "session-cookie",
        "generic",
        "(?i:(?:sessionid|session|jsessionid|phpsessid|sess|sid|auth|token|remember)"
        "(?:[_.-][A-Za-z0-9_.-]{0,20})?)=(?P<secret>[A-Za-z0-9%_.+/=:~-]{0,15}[0-9]"
        "[A-Za-z0-9%_.+/=:~-]{15,4080}|[A-Za-z0-9%_.+/=:~-]{16,4095}[0-9]"
        "[A-Za-z0-9%_.+/=:~-]{0,4080})",
        "sess",
        "sid",
        "auth",
        "token",
        "remember",
        entropy=3.0,
        boundary=False,
    ),
    # --- Private keys and tokens in standard formats ---
    token(
        "pem-private-key",
        "generic",
        "-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----"
        "(?P<secret>(?:[\\r\\n\\\\nr]{0,4}[A-Za-z-]{1,20}:[ \\t]{0,2}"
        "[ A-Za-z0-9,.()/_+-]{1,80}){0,4}"
        "[A-Za-z0-9+/=\\\\\\r\\n\\t ]{32,16384})",
        "private key",
        boundary=False,
    ),
    token(
        "putty-private-key",
        "generic",
        "Private-Lines:[ \\t]{0,4}[0-9]{1,3}(?P<secret>[A-Za-z0-9+/=\\\\\\r\\n\\t ]{16,16384})",
        "private-lines:",
        boundary=False,
    ),
    token(
        "json-web-token",
        "generic",
        "eyJ[A-Za-z0-9_-]{8,4096}\\.eyJ[A-Za-z0-9_-]{8,8192}\\.[A-Za-z0-9_-]{8,4096}",
        "eyj",
    ),
)
