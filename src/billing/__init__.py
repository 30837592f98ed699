"""Billing warehouse for freelancer marketplaces."""

import zoneinfo as _zoneinfo

__version__ = "0.1.0"

# One time-zone database for Python and DuckDB. The models take local time from DuckDB (ICU),
# Python (the close's period-ended check, PDF service ranges) from zoneinfo, which reads the
# host's /usr/share/zoneinfo first: a host's older IANA release disagrees with DuckDB's for some
# zones (Africa/Casablanca, America/Vancouver in 2026). The pinned `tzdata` package is the same
# release as DuckDB's (tests/test_timezones.py checks every zone), so Python reads only that.
_zoneinfo.reset_tzpath([])
_zoneinfo.ZoneInfo.clear_cache()
