"""The LLM proxy's immutable snapshot: providers, the names clients may ask for, prices, and
the budget and rate-limit rules, resolved once per configuration change.

Names a client may put in `model`:
- a route (alias) from the `models` section, e.g. `fast`;
- any provider's model qualified, `<provider>/<model>`;
- a provider's bare model id, when exactly one provider offers it and no route takes the name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from broker.catalog import AgentIdentity
from broker.llm.accounts import BudgetRule, LimitRule, Rules
from broker.llm.config import BudgetConfig, PriceConfig, RateLimitConfig, RouteConfig, SemanticCacheConfig
from broker.llm.providers import Provider
from broker.llm.usage import Usage

MILLION = 1_000_000


@dataclass(frozen=True, slots=True)
class Price:
    input: float
    output: float
    cached_input: float

    @classmethod
    def of(cls, config: PriceConfig) -> Price:
        cached = config.cached_input if config.cached_input is not None else config.input
        return cls(config.input / MILLION, config.output / MILLION, cached / MILLION)

    def cost(self, usage: Usage) -> float:
        cached = min(usage.cached, usage.prompt)
        return (
            (usage.prompt - cached) * self.input + cached * self.cached_input + usage.completion * self.output
        )


@dataclass(frozen=True, slots=True)
class Target:
    provider: Provider
    model: str
    """The provider's own model id, sent upstream."""
    price: Price | None
    max_output_tokens: int | None

    @property
    def qualified(self) -> str:
        return f"{self.provider.name}/{self.model}"


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    """The canonical name: the alias, or `<provider>/<model>`."""
    names: tuple[str, ...]
    """The names policies are checked against: the name asked for, then the canonical one."""
    targets: tuple[Target, ...]
    owned_by: str
    semantic_cache: SemanticCacheConfig | None = None


@dataclass(slots=True)
class LlmSnapshot:
    revision: int
    providers: Mapping[str, Provider]
    routes: Mapping[str, Route]
    """Every name a client may ask for."""
    listed: tuple[Route, ...]
    """What /v1/models shows (before the caller's policy filters it): aliases and models, once each."""
    budgets: tuple[BudgetRule, ...]
    limits: tuple[LimitRule, ...]
    _rules: dict[tuple[str, str | None], Rules] = field(default_factory=dict)

    def resolve(self, name: str) -> Route | None:
        return self.routes.get(name)

    def rules_for(self, agent: AgentIdentity) -> Rules:
        """The budgets and rate limits that apply to an agent (its own and its team's)."""
        memo = (agent.name, agent.team)
        found = self._rules.get(memo)
        if found is None:
            found = Rules(
                budgets=tuple(b for b in self.budgets if b.applies_to(agent.name, agent.team)),
                limits=tuple(limit for limit in self.limits if limit.applies_to(agent.name, agent.team)),
            )
            self._rules[memo] = found
        return found


def build_snapshot(
    revision: int,
    providers: Mapping[str, Provider],
    routes: list[RouteConfig],
    prices: list[PriceConfig],
    budgets: list[BudgetConfig],
    limits: list[RateLimitConfig],
) -> LlmSnapshot:
    price_table = {p.model: Price.of(p) for p in prices}
    targets: dict[str, Target] = {}
    offered_by: dict[str, list[str]] = {}
    for provider in providers.values():
        for offer in provider.config.models:
            qualified = f"{provider.name}/{offer.name}"
            price = price_table.get(qualified) or price_table.get(offer.name)
            targets[qualified] = Target(provider, offer.name, price, offer.max_output_tokens)
            offered_by.setdefault(offer.name, []).append(qualified)
    by_name: dict[str, Route] = {}
    listed: list[Route] = []
    for route in routes:
        found = tuple(targets[t] for t in route.targets if t in targets)
        if found:
            alias = Route(
                route.name,
                (route.name,),
                found,
                owned_by=found[0].provider.name,
                semantic_cache=route.semantic_cache,
            )
            by_name[route.name] = alias
            listed.append(alias)
    for qualified, target in targets.items():
        bare, owner = target.model, target.provider.name
        unique = len(offered_by[bare]) == 1 and bare not in by_name
        direct = Route(qualified, (qualified, bare) if unique else (qualified,), (target,), owned_by=owner)
        by_name.setdefault(qualified, direct)
        if unique:
            by_name[bare] = Route(qualified, (bare, qualified), (target,), owned_by=owner)
        listed.append(by_name[bare] if unique else direct)
    return LlmSnapshot(
        revision=revision,
        providers=providers,
        routes=by_name,
        listed=tuple(listed),
        budgets=tuple(BudgetRule(b) for b in budgets),
        limits=tuple(LimitRule(r) for r in limits),
    )
