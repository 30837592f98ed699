"""Fixed catalogue the generator draws from: currencies, entity templates, prices, names."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal


@dataclass(frozen=True)
class Currency:
    code: str
    minor: int  # ISO 4217 minor unit
    rate: Decimal  # units of this currency per USD, for converting the USD price book

    def money(self, value: Decimal) -> str:
        """A decimal string at the currency's minor unit (no exponent, no float)."""
        return format(value.quantize(Decimal(1).scaleb(-self.minor), ROUND_HALF_UP), "f")

    def unit_price(self, value: Decimal) -> str:
        """A unit price: up to minor + 2 decimals, trailing zeros trimmed down to the minor."""
        text = format(value.quantize(Decimal(1).scaleb(-(self.minor + 2)), ROUND_HALF_UP), "f")
        if self.minor + 2 > 0:
            whole, frac = text.split(".")
            frac = frac.rstrip("0").ljust(self.minor, "0")
            text = f"{whole}.{frac}" if frac else whole
        return text

    def convert(self, usd: str) -> Decimal:
        """A USD list price in this currency, rounded to three significant digits."""
        value = Decimal(usd) * self.rate
        if self.code == "USD" or not value:
            return value
        return value.quantize(Decimal(1).scaleb(value.adjusted() - 2), ROUND_HALF_UP)

    def nice(self, usd: str) -> Decimal:
        """A USD amount converted and rounded to two significant digits (round figures)."""
        value = Decimal(usd) * self.rate
        return value.quantize(Decimal(1).scaleb(value.adjusted() - 1), ROUND_HALF_UP)


CURRENCIES: dict[str, Currency] = {
    c.code: c
    for c in (
        Currency("USD", 2, Decimal("1")),
        Currency("EUR", 2, Decimal("0.92")),
        Currency("GBP", 2, Decimal("0.79")),
        Currency("JPY", 0, Decimal("150")),
        Currency("AUD", 2, Decimal("1.52")),
        Currency("KWD", 3, Decimal("0.307")),
        Currency("INR", 2, Decimal("83")),
    )
}


@dataclass(frozen=True)
class EntityTemplate:
    currency: str
    timezone: str
    country: str
    label: str  # country label in entity names
    legal: str  # legal form suffix
    address: tuple[str, ...]  # address lines; "{n}" is replaced by a street number
    tax_rate: str  # "" = not given (defaults to 0)


#: Entity i uses template i % len; KWD is the 8th so it appears once entities >= 8.
ENTITY_TEMPLATES: tuple[EntityTemplate, ...] = (
    EntityTemplate(
        "USD",
        "America/New_York",
        "US",
        "US",
        "Inc.",
        ("{n} Fifth Avenue, Suite 4100", "New York, NY 10118", "United States"),
        "",
    ),
    EntityTemplate(
        "EUR",
        "Europe/Paris",
        "FR",
        "France",
        "SAS",
        ("{n} rue de la Paix", "75002 Paris", "France"),
        "0.20",
    ),
    EntityTemplate(
        "GBP",
        "Europe/London",
        "GB",
        "UK",
        "Ltd",
        ("{n} Canada Square", "Canary Wharf", "London E14 5AB", "United Kingdom"),
        "0.20",
    ),
    EntityTemplate(
        "JPY",
        "Asia/Tokyo",
        "JP",
        "Japan",
        "K.K.",
        ("1-{n}-2 Oshiage", "Sumida-ku, Tokyo 131-0045", "Japan"),
        "0.10",
    ),
    EntityTemplate(
        "USD",
        "America/Chicago",
        "US",
        "Midwest",
        "LLC",
        ("{n} S Wacker Dr", "Chicago, IL 60606", "United States"),
        "0.0625",
    ),
    EntityTemplate(
        "EUR",
        "Europe/Berlin",
        "DE",
        "Deutschland",
        "GmbH",
        ("Friedrichstraße {n}", "10117 Berlin", "Germany"),
        "0.19",
    ),
    EntityTemplate(
        "AUD",
        "Australia/Sydney",
        "AU",
        "Australia",
        "Pty Ltd",
        ("{n} Martin Place", "Sydney NSW 2000", "Australia"),
        "0.10",
    ),
    EntityTemplate(
        "KWD",
        "Asia/Kuwait",
        "KW",
        "Kuwait",
        "W.L.L.",
        ("Al Hamra Tower, Floor {n}", "Sharq, Kuwait City", "Kuwait"),
        "",
    ),
    EntityTemplate(
        "INR",
        "Asia/Kolkata",
        "IN",
        "India",
        "Pvt Ltd",
        ("{n} MG Road", "Bengaluru 560001", "Karnataka, India"),
        "0.18",
    ),
    EntityTemplate(
        "USD",
        "America/Los_Angeles",
        "US",
        "West",
        "Inc.",
        ("{n} Market Street", "San Francisco, CA 94105", "United States"),
        "0.0",
    ),
    EntityTemplate(
        "EUR",
        "Europe/Paris",
        "FR",
        "Lyon",
        "SARL",
        ("{n} quai Saint-Antoine", "69002 Lyon", "France"),
        "0.20",
    ),
    EntityTemplate(
        "GBP",
        "Europe/London",
        "GB",
        "Scotland",
        "Ltd",
        ("{n} George Street", "Edinburgh EH2 2PB", "United Kingdom"),
        "0.20",
    ),
)

ORGANIZATION_NAMES: tuple[tuple[str, str], ...] = (
    ("Globex Talent", "globex.example"),
    ("Atelier Freelance", "atelier.example"),
    ("Kaizen Works", "kaizen.example"),
    ("Northwind Crowd", "northwind.example"),
    ("Blue Harbor Gigs", "blueharbor.example"),
    ("Sable & Finch", "sablefinch.example"),
    ("Oasis Experts", "oasis.example"),
    ("Maple Makers", "maple.example"),
    ("Helix Contractors", "helix.example"),
    ("Pioneer Studio", "pioneer.example"),
)

TEAM_NAMES = (
    "Engineering",
    "Design",
    "Recruiting",
    "Operations",
    "Sales",
    "Marketing",
    "Finance",
    "Data",
    "Support",
)

FIRST_NAMES = (
    "Alice",
    "Bruno",
    "Chloé",
    "Daniel",
    "Émilie",
    "Farid",
    "Grace",
    "Hiroshi",
    "Inès",
    "Jamal",
    "Keiko",
    "Liam",
    "Maya",
    "Nikhil",
    "Olga",
    "Pedro",
    "Quentin",
    "Rania",
    "Sofia",
    "Tomás",
    "Ulla",
    "Victor",
    "Wen",
    "Ximena",
    "Yusuf",
    "Zoë",
    "Aiko",
    "Björn",
    "Camille",
    "Dmitri",
    "Fatima",
    "Hana",
    "Ivan",
    "Jonas",
    "Leila",
    "Mateo",
    "Noor",
    "Priya",
    "Ravi",
    "Sakura",
)
LAST_NAMES = (
    "Martin",
    "Dubois",
    "Smith",
    "Sato",
    "Müller",
    "Rossi",
    "García",
    "Khan",
    "Nakamura",
    "O'Brien",
    "Kowalski",
    "Nguyen",
    "Silva",
    "Al-Sabah",
    "Patel",
    "Johansson",
    "Moreau",
    "Tanaka",
    "Fischer",
    "Brown",
    "Haddad",
    "Ivanova",
    "Lefèvre",
    "Suzuki",
    "Wilson",
    "Kim",
    "Costa",
    "Novak",
    "Okafor",
    "Reyes",
)


@dataclass(frozen=True)
class Tier:
    tier_from: int
    tier_to: int | None
    unit_price: str  # USD
    flat_fee: str | None  # USD


@dataclass(frozen=True)
class EventType:
    name: str
    weight: float  # share of events
    quantity_max: int  # quantities drawn in 1..quantity_max, skewed to 1
    model: str
    tiers: tuple[Tier, ...] = ()
    package_size: int | None = None
    percent: str | None = None
    min_fee: str | None = None  # USD
    max_fee: str | None = None  # USD


#: The marketplace's event types and their USD price book (converted for other currencies).
EVENT_TYPES: tuple[EventType, ...] = (
    EventType(
        "message_sent", 0.44, 12, "package", (Tier(0, None, "1.50", None),), package_size=500
    ),
    EventType(
        "proposal_sent",
        0.24,
        1,
        "graduated",
        (
            Tier(0, 1000, "0.10", "5.00"),
            Tier(1000, 10000, "0.05", "10.00"),
            Tier(10000, None, "0.01", None),
        ),
    ),
    EventType("project_posted", 0.11, 1, "per_unit", (Tier(0, None, "0.50", None),)),
    EventType(
        "invoice_paid", 0.09, 1, "percentage", percent="0.03", min_fee="0.50", max_fee="250.00"
    ),
    EventType(
        "contract_started",
        0.06,
        1,
        "volume",
        (
            Tier(0, 50, "4.00", None),
            Tier(50, 500, "3.00", "25.00"),
            Tier(500, None, "2.00", "50.00"),
        ),
    ),
    EventType("profile_boost", 0.06, 7, "per_unit", (Tier(0, None, "4.99", None),)),
)
#: The event type whose price changes mid-month (a second version of its price_id).
REPRICED_EVENT_TYPE = "project_posted"
REPRICED_UNIT_PRICE = "0.60"
#: An event type with no price in any currency (bad rows use it).
UNPRICED_EVENT_TYPE = "video_call"

#: Plans per currency: (key, name, USD seat price, proration).
PLANS: tuple[tuple[str, str, str, str], ...] = (
    ("starter", "Starter", "12", "daily"),
    ("team", "Team", "29", "second"),
    ("business", "Business", "49", "daily"),
)

#: USD ladders, converted per currency with two significant digits.
CREDIT_LIMITS = ("20", "50", "100", "200", "500", "1000")
CREDIT_PACKS_SMALL = ("100", "250", "500")
CREDIT_PACKS_LARGE = ("1000", "2500", "5000")
CREDITS_LOW_THRESHOLD = "100"
#: Typical gross amount of an `invoice_paid` event (USD); amounts span x1 .. x300 of it.
PAID_INVOICE_BASE = "20"
