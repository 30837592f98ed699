"""The reference tables: organizations, entities, teams, users, plans, prices, subscriptions,
credit purchases and payments. Small, so built row by row with ``random.Random(seed)``."""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from billing.errors import BillingError

from . import catalog as cat
from .timezones import add_months, iso_instant

Row = dict[str, str]


@dataclass(frozen=True)
class Window:
    """The generated months: local midnight of the first 1st to local midnight after the last."""

    periods: tuple[str, ...]
    start: datetime  # naive wall-clock time, the same in every entity's zone
    end: datetime

    @property
    def total_days(self) -> int:
        return (self.end - self.start).days

    def month_start(self, index: int) -> datetime:
        return add_months(self.start, index)


def make_window(end_period: str, months: int) -> Window:
    try:
        year, month = (int(part) for part in end_period.split("-"))
        last = datetime(year, month, 1)
    except ValueError as exc:
        raise BillingError(f"end_period must be YYYY-MM, got {end_period!r}") from exc
    if len(end_period) != 7:
        raise BillingError(f"end_period must be YYYY-MM, got {end_period!r}")
    start = add_months(last, -(months - 1))
    periods = tuple(add_months(start, i).strftime("%Y-%m") for i in range(months))
    return Window(periods, start, add_months(last, 1))


@dataclass
class Entity:
    entity_id: str
    organization_id: str
    currency: cat.Currency
    timezone: str
    weight: float  # share of the events
    large: bool
    members: list[str] = field(default_factory=list)  # user ids, in event-skew order
    outsider: str = ""  # an existing user who is not a member (for bad rows)


@dataclass
class World:
    window: Window
    entities: list[Entity]
    tables: dict[str, list[Row]]


class _Builder:
    def __init__(self, *, entities: int, events: int, window: Window, seed: int) -> None:
        self.rng = random.Random(seed)
        self.n_entities = entities
        self.n_events = events
        self.window = window
        self.tables: dict[str, list[Row]] = {}
        self.entities: list[Entity] = []
        self.valid_from = datetime(window.start.year - 1, 1, 1).strftime("%Y-%m-%d")

    # -- helpers -------------------------------------------------------------------------
    def _stamp(self, local: datetime, tz: str) -> str:
        """An instant as text: mostly with the local offset, sometimes in UTC with Z."""
        return iso_instant(local, tz, as_utc=self.rng.random() < 0.25)

    def _local_time(self, month: int, day_lo: int, day_hi: int) -> datetime:
        start = self.window.month_start(month)
        last_day = (add_months(start, 1) - timedelta(days=1)).day
        day = self.rng.randint(day_lo, min(day_hi, last_day))
        return start.replace(
            day=day, hour=self.rng.randint(8, 18), minute=self.rng.randrange(0, 60, 5)
        )

    # -- tenancy -------------------------------------------------------------------------
    def organizations_and_entities(self) -> None:
        rng, n = self.rng, self.n_entities
        # The first organization is global (USD, EUR, GBP, JPY); the others have 1-3 entities.
        groups: list[int] = [min(4, n)]
        while sum(groups) < n:
            groups.append(min(rng.choice((1, 1, 2, 2, 3)), n - sum(groups)))
        ranks = list(range(n))
        rng.shuffle(ranks)
        weights = [1.0 / (rank + 1) ** 1.3 for rank in ranks]
        total = sum(weights)
        large_cut = max(1, n // 4)
        orgs, entities = [], []
        index = 0
        for g, size in enumerate(groups):
            org_name, domain = cat.ORGANIZATION_NAMES[g % len(cat.ORGANIZATION_NAMES)]
            if g >= len(cat.ORGANIZATION_NAMES):
                org_name = f"{org_name} {g // len(cat.ORGANIZATION_NAMES) + 1}"
            org_id = f"org_{g + 1:03d}"
            orgs.append({"organization_id": org_id, "name": f"{org_name} Group"})
            for _ in range(size):
                t = cat.ENTITY_TEMPLATES[index % len(cat.ENTITY_TEMPLATES)]
                currency = cat.CURRENCIES[t.currency]
                entity_id = f"ent_{index + 1:03d}"
                number = rng.randint(1, 240)
                address = "\n".join(line.replace("{n}", str(number)) for line in t.address)
                self.entities.append(
                    Entity(
                        entity_id,
                        org_id,
                        currency,
                        t.timezone,
                        weights[index] / total,
                        ranks[index] < large_cut,
                    )
                )
                entities.append(
                    {
                        "entity_id": entity_id,
                        "organization_id": org_id,
                        "name": f"{org_name} {t.label} {t.legal}",
                        "currency": t.currency,
                        "timezone": t.timezone,
                        "country": t.country,
                        "billing_email": f"billing.{t.country.lower()}{index + 1}@{domain}",
                        "address": address if rng.random() < 0.9 else "",
                        "tax_rate": t.tax_rate,
                        "credits_low_threshold": "",
                    }
                )
                index += 1
        self.tables["organizations"] = orgs
        self.tables["entities"] = entities

    def teams_users_memberships(self) -> None:
        rng = self.rng
        teams: list[Row] = []
        entity_teams: list[list[str]] = []
        for e in self.entities:
            count = rng.randint(3, 4) if e.large else rng.randint(1, 2)
            names = rng.sample(cat.TEAM_NAMES, count)
            ids = []
            for name in names:
                team_id = f"team_{len(teams) + 1:04d}"
                teams.append({"team_id": team_id, "entity_id": e.entity_id, "name": name})
                ids.append(team_id)
            entity_teams.append(ids)
        self.tables["teams"] = teams

        scale = min(max(self.n_events / 300, 6 * len(self.entities)), 20_000)
        users: list[Row] = []
        primary: list[list[str]] = []
        for e in self.entities:
            ids = []
            for _ in range(2 + round(e.weight * scale)):
                ids.append(self._new_user(users))
            primary.append(ids)
        loners = [self._new_user(users) for _ in range(2)]  # invited, never joined
        self.tables["users"] = users

        members: list[list[str]] = [list(ids) for ids in primary]
        n = len(self.entities)
        if n >= 2:
            candidates = [(i, u) for i, ids in enumerate(primary) for u in ids]
            forced = {u for _, u in candidates[: min(3, len(candidates))]}
            by_org: dict[str, list[int]] = {}
            for i, e in enumerate(self.entities):
                by_org.setdefault(e.organization_id, []).append(i)
            for home, user in candidates:
                if user not in forced and rng.random() >= 0.15:
                    continue
                siblings = [i for i in by_org[self.entities[home].organization_id] if i != home]
                others = [i for i in range(n) if i != home]
                extra = 1 if rng.random() < 0.7 else 2
                pool = siblings if siblings and rng.random() < 0.7 else others
                for target in rng.sample(pool, min(extra, len(pool))):
                    members[target].append(user)

        rows: list[Row] = []
        for i, e in enumerate(self.entities):
            rng.shuffle(members[i])
            e.members = members[i]
            for user in members[i]:
                team = rng.choice(entity_teams[i]) if rng.random() < 0.9 else ""
                rows.append(
                    {"entity_id": e.entity_id, "user_id": user, "team_id": team, "credit_limit": ""}
                )
        self._credit_limits(rows)
        self.tables["entity_users"] = rows

        # An existing user outside each entity (for user_not_in_entity rows): rejection sampling.
        member_sets = [set(m) for m in members]
        everyone = [u["user_id"] for u in users if u["user_id"] not in loners]
        for i, e in enumerate(self.entities):
            picks = (rng.choice(everyone) for _ in range(64))
            e.outsider = next((u for u in picks if u not in member_sets[i]), loners[0])

    def _new_user(self, users: list[Row]) -> str:
        first, last = self.rng.choice(cat.FIRST_NAMES), self.rng.choice(cat.LAST_NAMES)
        user_id = f"usr_{len(users) + 1:05d}"
        local = _ascii(f"{first}.{last}").lower().replace("'", "")
        users.append(
            {
                "user_id": user_id,
                "name": f"{first} {last}",
                "email": f"{local}.{len(users) + 1}@mail.example",
            }
        )
        return user_id

    def _credit_limits(self, rows: list[Row]) -> None:
        """Limits per membership: some empty (no limit); a user's limits differ by entity."""
        by_id = {e.entity_id: e for e in self.entities}
        seen: dict[str, set[str]] = {}
        for row in rows:
            currency = by_id[row["entity_id"]].currency
            ladder = [currency.money(currency.nice(v)) for v in cat.CREDIT_LIMITS]
            used = seen.setdefault(row["user_id"], set())
            if not used:
                value = "" if self.rng.random() < 0.35 else self.rng.choice(ladder)
            else:  # a further entity of the same user: a different limit (or none)
                options = [v for v in ladder if v not in used]
                value = (
                    "" if "" not in used and self.rng.random() < 0.3 else (self.rng.choice(options))
                )
            used.add(value)
            row["credit_limit"] = value

    # -- catalogue -----------------------------------------------------------------------
    def currencies(self) -> list[cat.Currency]:
        codes = []
        for e in self.entities:
            if e.currency.code not in codes:
                codes.append(e.currency.code)
        return [cat.CURRENCIES[c] for c in codes]

    def plans(self) -> None:
        rows = []
        for c in self.currencies():
            for key, name, usd, proration in cat.PLANS:
                rows.append(
                    {
                        "plan_id": f"plan_{c.code.lower()}_{key}",
                        "name": f"{name} ({c.code})",
                        "currency": c.code,
                        "seat_price": c.money(c.nice(usd)),
                        "proration": proration,
                    }
                )
        self.tables["plans"] = rows

    def reprice_date(self) -> str:
        """The mid-month date from which the repriced event type has its second version."""
        return (
            self.window.month_start(len(self.window.periods) // 2)
            .replace(day=15)
            .strftime("%Y-%m-%d")
        )

    def event_prices(self) -> None:
        rows: list[Row] = []
        change = self.reprice_date()
        for c in self.currencies():
            for et in cat.EVENT_TYPES:
                price_id = f"price_{c.code.lower()}_{et.name}"
                base = {
                    "price_id": price_id,
                    "event_type": et.name,
                    "currency": c.code,
                    "model": et.model,
                    "tier_from": "",
                    "tier_to": "",
                    "unit_price": "",
                    "flat_fee": "",
                    "package_size": "",
                    "percent": "",
                    "min_fee": "",
                    "max_fee": "",
                    "valid_from": self.valid_from,
                    "valid_to": "",
                }
                if et.model == "percentage":
                    rows.append(
                        base
                        | {
                            "percent": et.percent or "",
                            "min_fee": c.money(c.convert(et.min_fee)) if et.min_fee else "",
                            "max_fee": c.money(c.convert(et.max_fee)) if et.max_fee else "",
                        }
                    )
                    continue
                tiered = et.model in ("graduated", "volume")
                for tier in et.tiers:
                    row = base | {"unit_price": c.unit_price(c.convert(tier.unit_price))}
                    if tiered:
                        row["tier_from"] = str(tier.tier_from)
                        row["tier_to"] = "" if tier.tier_to is None else str(tier.tier_to)
                        row["flat_fee"] = c.money(c.convert(tier.flat_fee)) if tier.flat_fee else ""
                    if et.package_size:
                        row["package_size"] = str(et.package_size)
                    if et.name == cat.REPRICED_EVENT_TYPE:
                        rows.append(row | {"valid_to": change})
                        row = row | {
                            "valid_from": change,
                            "unit_price": c.unit_price(c.convert(cat.REPRICED_UNIT_PRICE)),
                        }
                    rows.append(row)
        self.tables["event_prices"] = rows

    # -- subscriptions, credits, payments ------------------------------------------------
    def subscriptions(self) -> None:
        """A timeline per entity: a start, mid-month seat changes, one plan change, one
        cancellation (seats 0, in the last month)."""
        rng, months = self.rng, len(self.window.periods)
        n = len(self.entities)
        plan_changer = next((i for i, e in enumerate(self.entities) if not e.large), 0)
        others = [i for i in range(n) if i != plan_changer]
        canceller = min(others, key=lambda i: (self.entities[i].weight, i)) if others else -1
        rows: list[Row] = []
        self._seats: dict[str, list[tuple[datetime, str, int]]] = {}
        for i, e in enumerate(self.entities):
            cur = e.currency.code.lower()
            if i == plan_changer:
                plan = "team"
            elif e.large:
                plan = rng.choice(("team", "business"))
            else:
                plan = rng.choice(("starter", "team"))
            seats = rng.randint(15, 60) if e.large else rng.randint(2, 9)
            start = self.window.start
            if i % 6 == 5:  # a customer who signed up during the first month
                start = self._local_time(0, 8, 20)
            moves: list[tuple[datetime, str, int]] = []  # (when, kind, value)
            for m in range(months):
                if rng.random() < 0.35 or (i == 0 and m == 0):
                    moves.append(
                        (self._local_time(m, 3, 26), "seats", rng.choice((-3, -2, -1, 1, 2, 3, 5)))
                    )
            if i == plan_changer:
                month = self.window.month_start(min(1, months - 1))
                moves.append((month.replace(day=16, hour=14, minute=30), "plan", 2))
            cancel_at = None
            if i == canceller:
                cancel_at = self.window.month_start(months - 1).replace(day=18, hour=17, minute=45)
            timeline = [(start, plan, seats)]
            for when, kind, value in sorted(moves):
                if when <= start or (cancel_at and when >= cancel_at):
                    continue
                if kind == "plan":
                    plan = "business"
                seats = max(1, seats + value)
                timeline.append((when, plan, seats))
            if cancel_at and cancel_at > start:
                timeline.append((cancel_at, plan, 0))
            self._seats[e.entity_id] = [(t, f"plan_{cur}_{p}", s) for t, p, s in timeline]
            for when, plan_key, count in timeline:
                stamp = (
                    iso_instant(when, e.timezone)
                    if when == self.window.start
                    else self._stamp(when, e.timezone)
                )
                rows.append(
                    {
                        "change_id": f"chg_{len(rows) + 1:05d}",
                        "entity_id": e.entity_id,
                        "plan_id": f"plan_{cur}_{plan_key}",
                        "seats": str(count),
                        "effective_at": stamp,
                    }
                )
        self.tables["subscription_changes"] = rows

    def credit_purchases(self) -> None:
        rng, months = self.rng, len(self.window.periods)
        rows: list[Row] = []
        self._packs: dict[tuple[str, int], Decimal] = {}
        thresholds = {r["entity_id"]: r for r in self.tables["entities"]}
        for i, e in enumerate(self.entities):
            if not (i < 2 or e.large or rng.random() < 0.6):
                continue
            c = e.currency
            ladder = cat.CREDIT_PACKS_LARGE if e.large else cat.CREDIT_PACKS_SMALL
            buys: list[tuple[int, datetime, timedelta, str]] = [
                (0, self._local_time(0, 1, 5), timedelta(days=365), rng.choice(ladder))
            ]
            if i < 2 or rng.random() < 0.5:  # a short-lived promotional pack
                month = 0 if i < 2 else rng.randrange(months)
                life = timedelta(days=45 if months >= 2 else 10)
                buys.append((month, self._local_time(month, 5, 14), life, rng.choice(ladder)))
            if e.large and months >= 2 and rng.random() < 0.6:
                month = rng.randrange(1, months)
                buys.append(
                    (
                        month,
                        self._local_time(month, 10, 25),
                        timedelta(days=180),
                        rng.choice(ladder),
                    )
                )
            buys.sort(key=lambda b: b[1])
            for month, when, life, usd in buys:
                credits = c.nice(usd)
                discount = Decimal("0.90") if e.large else Decimal("0.95")
                price = Decimal(c.money(credits * discount))
                self._packs[(e.entity_id, month)] = (
                    self._packs.get((e.entity_id, month), Decimal(0)) + price
                )
                rows.append(
                    {
                        "purchase_id": f"cp_{len(rows) + 1:05d}",
                        "entity_id": e.entity_id,
                        "credits": c.money(credits),
                        "price": c.money(price),
                        "purchased_at": self._stamp(when, e.timezone),
                        "expires_at": self._stamp(when + life, e.timezone),
                    }
                )
            if rng.random() < 0.6 or i == 0:
                thresholds[e.entity_id]["credits_low_threshold"] = c.money(
                    c.nice(cat.CREDITS_LOW_THRESHOLD)
                )
        self.tables["credit_purchases"] = rows

    def payments(self) -> None:
        """Payments of the invoices of every generated month but the last (not yet due).

        Invoice numbers assume seq 1 is the first generated month. Amounts are the generator's
        estimate (seats at the start of the month + credit packs bought): the warehouse is the
        authority on invoice totals.
        """
        rng, months = self.rng, len(self.window.periods)
        plans = {p["plan_id"]: Decimal(p["seat_price"]) for p in self.tables["plans"]}
        rows: list[Row] = []
        n = len(self.entities)
        delinquent = n - 1 if n >= 3 else -1  # three failed attempts on its latest invoice
        unpaid = n - 2 if n >= 4 else -1  # never attempts to pay its latest invoice
        for i, e in enumerate(self.entities):
            for m in range(months - 1):
                number = f"{e.entity_id}-{m + 1:06d}"
                amount = e.currency.money(self._estimate(e, m, plans))
                due = self.window.month_start(m + 1)
                last = m == months - 2
                if last and i == unpaid:
                    continue
                first = due + timedelta(
                    days=rng.randint(2, 10), hours=rng.randint(8, 17), minutes=rng.randrange(60)
                )
                if last and i == delinquent:
                    attempts = [(first + timedelta(days=d), "failed") for d in (0, 4, 9)]
                elif rng.random() < 0.12:
                    attempts = [
                        (first, "failed"),
                        (first + timedelta(days=rng.randint(2, 5)), "succeeded"),
                    ]
                else:
                    attempts = [(first, "succeeded")]
                for when, status in attempts:
                    rows.append(
                        {
                            "payment_id": f"pay_{len(rows) + 1:06d}",
                            "invoice_number": number,
                            "amount": amount,
                            "status": status,
                            "attempted_at": iso_instant(when, e.timezone, as_utc=True),
                        }
                    )
        self.tables["payments"] = rows

    def _estimate(self, e: Entity, month: int, plans: dict[str, Decimal]) -> Decimal:
        start = self.window.month_start(month)
        timeline = self._seats[e.entity_id]
        in_force = [t for t in timeline if t[0] <= start] or timeline[:1]
        _, plan_id, seats = in_force[-1]
        packs = self._packs.get((e.entity_id, month), Decimal(0))
        return plans[plan_id] * seats + packs


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def build_world(*, entities: int, events: int, window: Window, seed: int) -> World:
    b = _Builder(entities=entities, events=events, window=window, seed=seed)
    b.organizations_and_entities()
    b.teams_users_memberships()
    b.plans()
    b.event_prices()
    b.subscriptions()
    b.credit_purchases()
    b.payments()
    return World(window, b.entities, b.tables)
