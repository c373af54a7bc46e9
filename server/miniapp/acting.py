"""Moved to server/acting.py (below every mini-program domain); kept so existing imports still work."""

from server.acting import ActingAs, ProxyScope, acting_for, require_self

__all__ = ["ActingAs", "ProxyScope", "acting_for", "require_self"]
