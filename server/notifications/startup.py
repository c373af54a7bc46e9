"""Start-up check of the subscribe-message templates and their WeChat ids.

A template without an id can never be sent: every such message would end ``failed`` one by one,
long after deployment. So the gap is reported when the service starts: production refuses to
start, development and tests log it loudly and carry on.
"""

from __future__ import annotations

import logging

from server.config import Settings
from server.notifications.templates import TemplateRegistry, default_registry

log = logging.getLogger("server.notifications")


class TemplateConfigurationError(RuntimeError):
    """Templates or their WeChat ids are not usable in this environment."""


def check_templates(settings: Settings, *, registry: TemplateRegistry | None = None) -> list[str]:
    """Validate ``mp_templates/`` (TemplateError if a file is wrong) and the configured ids.

    Returns the problems found; raises TemplateConfigurationError for them in production."""
    registry = registry or default_registry()
    ids = settings.wechat.template_ids
    problems: list[str] = []
    missing = registry.missing_template_ids(ids)
    if missing:
        problems.append("no WeChat template id for " + ", ".join(missing) + ": set VETS_WECHAT__TEMPLATE_IDS (JSON: template key -> id from the mini-program console)")
    unknown = registry.unknown_template_ids(ids)
    if unknown:
        problems.append("VETS_WECHAT__TEMPLATE_IDS names keys without a template file: " + ", ".join(unknown))
    by_id: dict[str, list[str]] = {}
    for key, template_id in ids.items():
        if template_id:
            by_id.setdefault(template_id, []).append(key)
    shared = [f"{template_id} ({', '.join(sorted(keys))})" for template_id, keys in by_id.items() if len(keys) > 1]
    if shared:
        problems.append("one WeChat template id configured for several keys: " + "; ".join(shared))
    if problems and settings.environment == "production":
        raise TemplateConfigurationError("subscribe-message templates are not configured:\n  " + "\n  ".join(problems))
    for problem in problems:
        log.warning("TEMPLATE CONFIGURATION: %s; these messages will not be sent", problem)
    return problems
