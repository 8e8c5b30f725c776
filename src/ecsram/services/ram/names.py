"""Name parameters of RAM entities: their characters and lengths."""

from __future__ import annotations

import re
from collections.abc import Callable

from ecsram.services.ram import errors
from ecsram.spec.params import Checked

ROLE_NAME = re.compile(r"[A-Za-z0-9.\-]+")
ROLE_NAME_MAX = 64


def name_check(kind: str, pattern: re.Pattern[str], maximum: int) -> Callable[[str], str]:
    def check(raw: str) -> str:
        if len(raw) > maximum:
            raise errors.invalid_name_length(kind, maximum)
        if not pattern.fullmatch(raw):
            raise errors.invalid_name_chars(kind)
        return raw

    return check


def role_name_param(name: str = "RoleName", *, required: bool = True) -> Checked:
    return Checked(name, required=required, check=name_check("Role", ROLE_NAME, ROLE_NAME_MAX))
