"""ISO 3166-1 alpha-2 countries: the codes the loader accepts and the names invoices print.

The list is pycountry's, plus user-assigned codes in common use that ISO has not assigned
(Kosovo's XK, used by the EU and by banks).
"""

from __future__ import annotations

import functools

#: User-assigned codes accepted as countries, with the name an invoice prints.
USER_ASSIGNED = {"XK": "Kosovo"}


@functools.cache
def iso_countries() -> frozenset[str]:
    """Every accepted alpha-2 code, in capitals."""
    import pycountry

    return frozenset(c.alpha_2 for c in pycountry.countries) | frozenset(USER_ASSIGNED)


def country_name(code: str) -> str:
    """The short English name of a code ("United States" for US); the code itself if unknown."""
    import pycountry

    key = code.strip().upper()
    found = pycountry.countries.get(alpha_2=key)
    if found is None:
        return USER_ASSIGNED.get(key, code)
    return getattr(found, "common_name", None) or found.name
