"""Passwords where tools and files put them: command lines, SQL, and the configuration
files of package managers and network clients.

PURE. The secret is the password alone; the command, the user and the host stay
readable. Each rule is anchored on the tool's or the file's own word (its keyword).
"""

from __future__ import annotations

from typing import Final

from ..scanner import Rule
from ._forms import token

__all__ = ("RULES",)

#: A password as a command-line word: printable ASCII but a space or a quote.
_WORD = "[!#-&(-~]{1,128}"
#: Any command-line word (a user, a host, a path).
_ARG = "[!-~]{1,256}"
#: Inside single or double quotes, or an XML attribute or element: printable ASCII
#: but the closing character.
_IN_SINGLE = "[ -&(-~]{1,256}"
_IN_DOUBLE = "[ !#-~]{1,256}"
_IN_ELEMENT = "[ -;=?-~]{1,256}"
#: Inside double quotes that may be escaped: neither a quote nor a backslash.
_IN_JSON = "[ !#-\\[\\]-~]{1,256}"
#: Between the words of a .netrc entry: spaces, tabs, line breaks.
_NL = "[ \\t\\r\\n]{1,8}"
#: A random word: an API key's characters.
_RANDOM = "[A-Za-z0-9_.+/~-]"
#: What may stand between a command and the option that takes the password.
_OPTIONS = "[ -~]{0,300}?[ \\t]"


RULES: Final[tuple[Rule, ...]] = (
    # --- Command lines ---
    token(
        "sqlcmd-password",
        "Microsoft SQL Server",
        f"(?i:sqlcmd|bcp|osql){_OPTIONS}-P[ \\t]{{0,4}}(?P<secret>{_WORD})",
        "sqlcmd",
        "bcp",
        "osql",
        boundary=False,
    ),
    token(
        "redis-cli-password",
        "Redis",
        f"(?i:redis-cli){_OPTIONS}(?:-a|--pass)[ \\t]{{1,4}}(?P<secret>{_WORD})",
        "redis-cli",
        boundary=False,
    ),
    token(
        "ldap-tool-password",
        "OpenLDAP",
        f"(?i:ldap(?:search|modify|add|delete|passwd|compare|whoami|modrdn)){_OPTIONS}"
        f"-w[ \\t]{{1,4}}(?P<secret>{_WORD})",
        "ldap",
        boundary=False,
    ),
    token(
        "htpasswd-batch-password",
        "Apache HTTP Server",
        f"(?i:htpasswd)[ \\t]{{1,4}}-[A-Za-z]{{0,5}}b[A-Za-z]{{0,5}}[ \\t]{{1,4}}"
        f"(?:-[A-Za-z]{{1,6}}[ \\t]{{1,4}}){{0,3}}{_ARG}[ \\t]{{1,4}}{_ARG}[ \\t]{{1,4}}"
        f"(?P<secret>{_WORD})",
        "htpasswd",
        boundary=False,
    ),
    token(
        "net-use-password",
        "Microsoft Windows",
        f"(?i:net[ \\t]{{1,4}}use){_OPTIONS}(?i:/user:){_ARG}[ \\t]{{1,4}}(?P<secret>{_WORD})",
        "net",
        boundary=False,
    ),
    token(
        "rabbitmqctl-password",
        "RabbitMQ",
        f"(?i:rabbitmqctl)[ \\t]{{1,4}}(?:add_user|change_password|authenticate_user)"
        f"[ \\t]{{1,4}}{_ARG}[ \\t]{{1,4}}(?P<secret>{_WORD})",
        "rabbitmqctl",
        boundary=False,
    ),
    # --- Files ---
    # The tokens of a .netrc entry are separated by spaces or by line breaks.
    token(
        "netrc-password",
        "netrc",
        f"(?i:machine|default){_NL}{_ARG}{_NL}(?:(?i:login){_NL}{_ARG}"
        f"{_NL})?(?i:password|passwd){_NL}(?P<secret>{_WORD})",
        "machine",
        "default",
        boundary=False,
    ),
    # A .netrc's password line alone (an API key, as the CLIs of W&B or Heroku write
    # it): a random word of 20 or more characters with a digit in it.
    token(
        "netrc-password-line",
        "netrc",
        f"(?i:password|passwd)[ \\t]{{1,8}}(?P<secret>{_RANDOM}{{0,19}}[0-9]{_RANDOM}{{19,127}}"
        f"|{_RANDOM}{{19,127}}[0-9]{_RANDOM}{{0,127}})",
        "passw",
        # 3.0, not 3.5: one random 40-hex key in 20 is below 3.5 bits.
        entropy=3.0,
    ),
    token(
        "pgpass-line",
        "PostgreSQL",
        "[A-Za-z0-9_.*-]{1,253}:(?:5432|\\*):[A-Za-z0-9_.*-]{1,63}:[A-Za-z0-9_.*-]{1,63}:"
        "(?P<secret>[!-~]{1,128})",
        ":5432:",
        ":*:",
    ),
    token(
        "nuget-config-password",
        "NuGet",
        # Also written inside a JSON string, its quotes escaped (key=\\"...\\").
        f'(?i:key=[\\\\]{{0,4}}"ClearTextPassword[\\\\]{{0,4}}")[ \\t]{{1,8}}'
        f'(?i:value)=[\\\\]{{0,4}}"(?P<secret>{_IN_JSON})[\\\\]{{0,4}}"',
        "cleartextpassword",
        boundary=False,
    ),
    token(
        "xml-password-element",
        "Apache Maven",
        f"<(?i:password|passphrase)>(?P<secret>{_IN_ELEMENT})</(?i:password|passphrase)>",
        "<password>",
        "<passphrase>",
        boundary=False,
    ),
    # --- SQL ---
    token(
        "sql-password-single-quoted",
        "SQL",
        # Also inside a shell's single-quoted word, where each quote is written '"'"'.
        f"(?i:password|identified[ \\t]{{1,4}}by)[ \\t]{{1,4}}'(?:\"'\"')?"
        f"(?P<secret>{_IN_SINGLE})'",
        "password",
        "identified",
        boundary=False,
    ),
    token(
        "sql-password-double-quoted",
        "SQL",
        f'(?i:password|identified[ \\t]{{1,4}}by)[ \\t]{{1,4}}"(?P<secret>{_IN_DOUBLE})"',
        "password",
        "identified",
        boundary=False,
    ),
)
