"""Who a budget applies to: a :class:`Scope` (user, team, org, key, tag or global, and an id)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

#: The kinds of scope, from the narrowest to the widest.
SCOPE_KINDS: tuple[str, ...] = ("user", "team", "org", "key", "tag", "global")

#: Separates a scope from what is counted for it in a store owner name; never in an id.
OWNER_SEPARATOR = "\x1f"
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def hash_api_key(api_key: str) -> str:
    """The SHA-256 hex digest of an API key: how a key scope is stored (LiteLLM's own hash).

    Example:
        >>> hash_api_key("sk-test")[:12]
        'a11cb4b1e6d5'
    """
    return hashlib.sha256(api_key.encode()).hexdigest()


@dataclass(frozen=True, slots=True, order=True)
class Scope:
    """What a budget, model cap, quota or rate limit applies to.

    ``kind`` is one of ``user``, ``team``, ``org``, ``key`` (an API key, kept only as its
    SHA-256 hash, LiteLLM's virtual-key hash), ``tag`` (a feature or workload label) or
    ``global`` (everything). Its string form is ``"kind:id"`` (``"global"`` alone), accepted
    wherever a scope is.

    Example:
        >>> Scope.team("search")
        Scope('team:search')
        >>> Scope.parse("org:acme") == Scope.org("acme")
        True
        >>> "sk-live" in str(Scope.key("sk-live-123"))  # only the key's hash is kept
        False

    .. versionadded:: 0.2.0
    """

    kind: str
    id: str

    def __post_init__(self) -> None:
        if self.kind not in SCOPE_KINDS:
            raise ValueError(f"unknown scope kind {self.kind!r}: expected one of "
                             f"{', '.join(SCOPE_KINDS)}")
        if not isinstance(self.id, str) or (not self.id and self.kind != "global"):
            raise ValueError(f"a {self.kind} scope needs a non-empty string id, got {self.id!r}")
        if OWNER_SEPARATOR in self.id:
            raise ValueError(f"scope id {self.id!r} must not contain the \\x1f character")
        if self.kind == "global" and self.id not in ("", "*"):
            raise ValueError(f"the global scope has no id, got {self.id!r}")
        if self.kind == "global":
            object.__setattr__(self, "id", "")
        if self.kind == "key" and not _SHA256_HEX.fullmatch(self.id):
            raise ValueError("a key scope holds the SHA-256 hex digest of the key: use "
                             "Scope.key(api_key), which hashes it")

    # -- constructors -------------------------------------------------------------
    @classmethod
    def user(cls, user_id: str) -> Scope:
        """The scope of one user. Example: ``Scope.user("alice")``."""
        return cls("user", user_id)

    @classmethod
    def team(cls, team_id: str) -> Scope:
        """The scope of a team. Example: ``Scope.team("search")``."""
        return cls("team", team_id)

    @classmethod
    def org(cls, org_id: str) -> Scope:
        """The scope of an organisation. Example: ``Scope.org("acme")``."""
        return cls("org", org_id)

    @classmethod
    def key(cls, api_key: str) -> Scope:
        """The scope of an API key, stored as its SHA-256 hash (a 64-hex digest is kept as is).

        Example: ``Scope.key("sk-...")`` or ``Scope.key(user_api_key_dict.api_key)``.
        """
        if not isinstance(api_key, str) or not api_key:
            raise ValueError(f"an API key must be a non-empty string, got {api_key!r}")
        digest = api_key if _SHA256_HEX.fullmatch(api_key) else hash_api_key(api_key)
        return cls("key", digest)

    @classmethod
    def tag(cls, name: str) -> Scope:
        """The scope of a tag (a feature or workload label). Example: ``Scope.tag("batch")``."""
        return cls("tag", name)

    @classmethod
    def global_(cls) -> Scope:
        """The scope of every request. Example: ``Scope.global_()``."""
        return cls("global", "")

    @classmethod
    def parse(cls, value: Scope | str) -> Scope:
        """A scope from itself or its ``"kind:id"`` string (``"global"`` alone).

        A ``key:`` string holds the key or its SHA-256 hex digest; the key is hashed.

        Example:
            >>> Scope.parse("tag:batch")
            Scope('tag:batch')
        """
        if isinstance(value, Scope):
            return value
        if not isinstance(value, str):
            raise ValueError(f"a scope is a Scope or a 'kind:id' string, got {value!r}")
        if value in ("global", "global:", "global:*"):
            return cls.global_()
        kind, sep, ident = value.partition(":")
        if not sep:
            raise ValueError(f"a scope string is 'kind:id' (e.g. 'team:search'), got {value!r}")
        if kind == "key":
            return cls.key(ident)
        return cls(kind, ident)

    # -- naming -------------------------------------------------------------------
    def owner(self, counted: str | None = None) -> str:
        """The store owner name of this scope's counters (``counted``: what they count)."""
        return str(self) if counted is None else f"{self}{OWNER_SEPARATOR}{counted}"

    def describe(self) -> str:
        """How refusals name the scope, e.g. ``team 'search'`` or ``the global budget``."""
        if self.kind == "global":
            return "the global scope"
        if self.kind == "key":
            return f"API key {self.id[:12]}..."
        return f"{self.kind} {self.id!r}"

    def __str__(self) -> str:
        return "global" if self.kind == "global" else f"{self.kind}:{self.id}"

    def __repr__(self) -> str:
        return f"Scope({str(self)!r})"
