"""Listing a region's instances (and the disks and interfaces they carry) a page at a time:
the paging parameters, their checks, and the page itself."""

from __future__ import annotations

from typing import Any

from ecsram.contract import paging as tokens
from ecsram.contract.call import Call
from ecsram.contract.catalogue import vendor
from ecsram.contract.catalogue.params import INT32, Checked, Integer
from ecsram.contract.errors import ApiError
from ecsram.store import instances
from ecsram.store.instances import Instance


def next_token(raw: str) -> str:
    try:
        return tokens.decode(raw)
    except ValueError:
        raise ApiError("InvalidParameter", 400, 'The specified parameter "NextToken" is not valid.') from None


def instance_page(
    call: Call,
    filters: dict[str, Any],
    *,
    default_size: int = 10,
    keyset: bool = False,
) -> tuple[dict[str, Any], list[Instance]]:
    """One page of the caller's instances in the region matching ``filters``: the paging fields of
    the response, and the instances. ``keyset`` pages by ``NextToken``/``MaxResults``, else by
    ``PageNumber``/``PageSize``."""
    args = call.args
    account, region = call.caller.account_id, args["RegionId"]
    if keyset:
        size = args["MaxResults"] or default_size
        total, page = instances.list_page(
            call.store, account, region, filters, after=args["NextToken"] or "", limit=size + 1
        )
        more = len(page) > size
        page = page[:size]
        token = tokens.encode(page[-1].instance_id) if more else ""
        return {"TotalCount": total, "NextToken": token, "PageSize": size, "PageNumber": 1}, page
    number, size = args["PageNumber"], args["PageSize"]
    total, page = instances.list_page(call.store, account, region, filters, offset=(number - 1) * size, limit=size)
    return {"TotalCount": total, "PageNumber": number, "PageSize": size}, page


def keyset(call: Call) -> bool:
    """Whether the caller pages by ``NextToken``/``MaxResults`` rather than by page number."""
    return call.args["NextToken"] is not None or call.args["MaxResults"] is not None


def paging_params(max_size: int, default_size: int = 10) -> tuple[Integer, Integer]:
    """``PageNumber`` (from 1) and ``PageSize`` (1..``max_size``)."""
    return Integer("PageNumber", minimum=1, maximum=INT32[1], default=1), Integer(
        "PageSize", minimum=1, maximum=max_size, default=default_size
    )


def keyset_params(max_results: int) -> tuple[Checked, Integer]:
    """``NextToken`` (one ecsram issued) and ``MaxResults`` (1..``max_results``)."""
    return Checked("NextToken", check=next_token), Integer("MaxResults", minimum=1, maximum=max_results)


def choice_of(action: str, code: str, choices: tuple[str, ...], fallback_status: int = 400) -> Any:
    """A check that the value is one of ``choices``, else the vendor's ``code`` for ``action``."""

    def check(raw: str) -> str:
        if raw not in choices:
            raise vendor.api_error(
                "ecs",
                action,
                code,
                fallback=(fallback_status, f"The specified value must be one of {', '.join(choices)}."),
                detail=f"The specified value must be one of {', '.join(choices)}.",
            )
        return raw

    return check
