"""Name parameters of RAM entities: allowed characters, lengths, and the vendor's codes for each."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ecsram.contract.catalogue.params import Checked
from ecsram.contract.errors import ApiError


@dataclass(frozen=True, slots=True)
class NameRule:
    pattern: re.Pattern[str]
    maximum: int
    chars_message: str
    length_message: str

    def param(self, name: str, *, required: bool = True) -> Checked:
        def check(raw: str) -> str:
            if len(raw) > self.maximum:
                raise ApiError(f"InvalidParameter.{name}.Length", 400, self.length_message.format(name=name))
            if not self.pattern.fullmatch(raw):
                raise ApiError(f"InvalidParameter.{name}.InvalidChars", 400, self.chars_message.format(name=name))
            return raw

        return Checked(name, required=required, check=check)


ROLE = NameRule(
    re.compile(r"[A-Za-z0-9.\-]+"),
    64,
    "The specified role name contains invalid characters.",
    "The maximum length of the role name is exceeded.",
)
USER = NameRule(
    re.compile(r"[A-Za-z0-9._@\-]+"),
    64,
    'The parameter - "{name}" contains invalid chars.',
    'The parameter - "{name}" beyond the length limit.',
)
GROUP = NameRule(
    re.compile(r"[A-Za-z0-9._\-]+"),
    64,
    'The parameter - "{name}" contains invalid chars.',
    'The parameter - "{name}" beyond the length limit.',
)
POLICY = NameRule(
    re.compile(r"[A-Za-z0-9\-]+"),
    128,
    "The policy name contains invalid characters. It must only contain upper or lower case letters, numbers, "
    "and dash (-).",
    "The length of the policy name is invalid. It must be 1 to 128 characters in length.",
)


def role_name_param(name: str = "RoleName", *, required: bool = True) -> Checked:
    return ROLE.param(name, required=required)
