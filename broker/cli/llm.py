"""`broker llm ...` (providers, model routes, prices, budgets, rate limits) and `broker usage`."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from broker.cli.context import Context, Subcommands, command, group, invalid_file, read_text
from broker.cli.errors import CliError
from broker.cli.output import cell_text, short_time

if TYPE_CHECKING:
    from broker.yamlsource import Located

PATHS = {"providers": "providers", "models": "models", "prices": "prices", "budgets": "budgets",
         "rate_limits": "rate-limits"}  # fmt: skip
HELP = {
    "providers": "upstream model providers (OpenAI-compatible or Anthropic)",
    "models": "model routes: names clients use, with fallback targets",
    "prices": "the price table (USD per million tokens)",
    "budgets": "spending caps per agent or team per day or month",
    "rate_limits": "requests and tokens per minute per agent or team",
}


def register(commands: Subcommands[argparse.ArgumentParser], leaf: argparse.ArgumentParser) -> None:
    llm = group(commands, "llm", "configure the LLM proxy at /v1: providers, models, prices, budgets, limits")
    parser = command(
        llm, leaf, "apply", apply_file, "apply a file of providers, models, prices, budgets, limits"
    )
    parser.add_argument("-f", "--file", required=True, help="the YAML (or JSON) file; '-' reads stdin")
    for kind, path in PATHS.items():
        area = group(llm, path, HELP[kind])
        command(area, leaf, "list", _bind(list_items, kind), f"list {path}")
        parser = command(area, leaf, "add", _bind(add_item, kind), "add one from a YAML or JSON file")
        parser.add_argument("-f", "--file", required=True, help="one item; '-' reads stdin")
        parser.add_argument("--replace", action="store_true", help="replace an item of the same name")
        parser = command(area, leaf, "show", _bind(show_item, kind), "show one")
        parser.add_argument("name")
        parser = command(area, leaf, "remove", _bind(remove_item, kind), "remove one")
        parser.add_argument("name")
        if kind == "prices":
            parser = command(area, leaf, "set", set_price, "set a model's prices")
            parser.add_argument("model", help="'<provider>/<model>', or a bare model id for any provider")
            parser.add_argument("--input", type=float, required=True, help="USD per million prompt tokens")
            parser.add_argument(
                "--output", type=float, required=True, help="USD per million completion tokens"
            )
            parser.add_argument("--cached-input", type=float, help="USD per million cached prompt tokens")
        if kind == "budgets":
            command(area, leaf, "status", budget_status, "spent, reserved and left in each budget's window")

    parser = command(commands, leaf, "usage", usage, "model usage and cost through the LLM proxy")
    parser.add_argument(
        "--by",
        default="agent,model",
        help="group by: agent, user (the end user of OAuth callers), team, model, provider, endpoint, "
        "connector and tool (of sampling requests the gateway served), status, day, hour",
    )
    parser.add_argument("--period", choices=["today", "month", "all"], default="month", help="default: month")
    parser.add_argument("--since", help="only calls from this time (ISO 8601), instead of --period")
    parser.add_argument("--until", help="only calls before this time (ISO 8601)")
    parser.add_argument("--agent", help="only this agent")
    parser.add_argument("--team", help="only this team")
    parser.add_argument("--user", help="only calls made for this end user")
    parser.add_argument("--model", help="only this model (as clients name it)")


def _bind(handler: Callable[[Context, str], int], kind: str) -> Callable[[Context], int]:
    return lambda ctx: handler(ctx, kind)


def apply_file(ctx: Context) -> int:
    from broker import yamlsource
    from broker.documents import validate
    from broker.errors import InvalidInput
    from broker.llm.config import LlmDocument

    path = ctx.args.file
    try:
        located = yamlsource.load(read_text(path), source=path)
        located = _llm_section(located, path)
        document = validate(LlmDocument, located, source=path)
    except InvalidInput as exc:
        raise invalid_file(exc, path) from None
    try:
        result = ctx.client.post("/admin/llm/apply", document.model_dump(mode="json", exclude_unset=True))
    except CliError as exc:
        raise exc.within(path, located) from None
    if ctx.out.as_json:
        ctx.out.json(result)
        return 0
    if not result["changed"]:
        ctx.out.line(f"no changes: everything is already as {path} says")
    for kind, buckets in result["report"].items():
        parts = [f"{what} {', '.join(buckets[what])}" for what in ("created", "updated") if buckets[what]]
        if parts:
            ctx.out.line(f"{PATHS[kind] + ':':13}" + "; ".join(parts))
    return 0


def _llm_section(located: Located, path: str) -> Located:
    """A file for `broker llm apply` holds the sections themselves, or the combined file's
    `llm:` section alone (as the README shows it); anything beside that belongs to `broker apply`."""
    value = located.value
    if not (isinstance(value, dict) and "llm" in value):
        return located
    others = sorted(str(key) for key in value if key != "llm")
    if others:
        raise CliError(
            f"{path} also has {', '.join(others)} beside llm: "
            f"apply the whole file with `broker apply -f {path}`"
        )
    from broker.yamlsource import Located

    marks = {path[1:]: mark for path, mark in located.marks.items() if path[:1] == ("llm",)}
    return Located(value["llm"], marks)


def add_item(ctx: Context, kind: str) -> int:
    from broker import yamlsource
    from broker.documents import check
    from broker.errors import InvalidInput
    from broker.llm.config import KINDS

    path = ctx.args.file
    try:
        located = yamlsource.load(read_text(path), source=path)
        item = check(KINDS[kind].model_validate, located, source=path)
    except InvalidInput as exc:
        raise invalid_file(exc, path) from None
    replace = "true" if ctx.args.replace else None
    try:
        result = ctx.client.post(f"/admin/llm/{PATHS[kind]}", item.model_dump(mode="json"), replace=replace)
    except CliError as exc:
        raise exc.within(path, located) from None
    return _changed(ctx, result)


def set_price(ctx: Context) -> int:
    args = ctx.args
    body: dict[str, Any] = {"model": args.model, "input": args.input, "output": args.output}
    if args.cached_input is not None:
        body["cached_input"] = args.cached_input
    return _changed(ctx, ctx.client.post("/admin/llm/prices", body, replace="true"))


def _changed(ctx: Context, result: dict[str, Any]) -> int:
    if ctx.out.as_json:
        ctx.out.json(result)
    else:
        ctx.out.line(f"{result['result']} {result['kind'].replace('_', ' ').rstrip('s')} {result['name']}")
    return 0


def show_item(ctx: Context, kind: str) -> int:
    found = ctx.client.get(f"/admin/llm/{PATHS[kind]}/{ctx.args.name}")
    if ctx.out.as_json:
        ctx.out.json(found)
        return 0
    ctx.out.line(f"# {found['name']} (updated {short_time(found['updated_at'])})")
    for key, value in found["config"].items():
        ctx.out.line(f"{key}: {cell_text(value, 200)}")
    for key, value in (found.get("status") or {}).items():
        ctx.out.line(f"# {key}: {cell_text(value, 200)}")
    return 0


def remove_item(ctx: Context, kind: str) -> int:
    ctx.client.delete(f"/admin/llm/{PATHS[kind]}/{ctx.args.name}")
    if ctx.out.as_json:
        ctx.out.json({"removed": ctx.args.name})
    else:
        ctx.out.line(f"removed {PATHS[kind].rstrip('s')} {ctx.args.name}")
    return 0


def list_items(ctx: Context, kind: str) -> int:
    rows = ctx.client.get(f"/admin/llm/{PATHS[kind]}")
    if ctx.out.as_json:
        ctx.out.json(rows)
        return 0
    headers, cells = COLUMNS[kind]
    ctx.out.table(
        headers, [cells(r["config"], r.get("status") or {}) for r in rows], empty=f"no {PATHS[kind]} yet"
    )
    return 0


def _subject(c: dict[str, Any]) -> str:
    return f"agent {c['agent']}" if c.get("agent") else f"team {c.get('team')}"


def _models(c: dict[str, Any]) -> list[str]:
    return [m["name"] if isinstance(m, dict) else str(m) for m in c.get("models", [])]


COLUMNS: dict[str, tuple[list[str], Callable[[dict[str, Any], dict[str, Any]], list[Any]]]] = {
    "providers": (
        ["name", "kind", "base url", "key", "models"],
        lambda c, s: [c["name"], c["kind"], c["base_url"], s.get("key", "-"), _models(c)],
    ),
    "models": (
        ["name", "targets", "in service"],
        lambda c, s: [c["name"], c["targets"], s.get("targets_in_service", [])],
    ),
    "prices": (
        ["model", "input", "output", "cached input"],
        lambda c, s: [c["model"], c["input"], c["output"], c.get("cached_input", c["input"])],
    ),
    "budgets": (
        ["name", "for", "per", "limit"],
        lambda c, s: [
            c["name"],
            _subject(c),
            c["period"],
            f"{c['tokens']} tokens" if c.get("tokens") else f"{c['usd']} USD",
        ],
    ),
    "rate_limits": (
        ["name", "for", "rpm", "tpm"],
        lambda c, s: [c["name"], _subject(c), c.get("rpm"), c.get("tpm")],
    ),
}


def budget_status(ctx: Context) -> int:
    rows = ctx.client.get("/admin/llm/budget-status")
    if ctx.out.as_json:
        ctx.out.json(rows)
        return 0
    table = [
        [r["name"], f"{r['scope']} {r['subject']}", r["period"], _amount(r["spent"], r["unit"]),
         _amount(r["reserved"], r["unit"]), _amount(r["limit"], r["unit"]), short_time(r["resets_at"])]
        for r in rows
    ]  # fmt: skip
    ctx.out.table(["budget", "for", "per", "spent", "reserved", "limit", "resets"], table, empty="no budgets")
    return 0


def _amount(value: float, unit: str) -> str:
    return f"{int(value)}" if unit == "tokens" else f"${value:.4f}"


def usage(ctx: Context) -> int:
    args = ctx.args
    params = {"by": args.by, "period": args.period, "since": args.since, "until": args.until,
              "agent": args.agent, "team": args.team, "model": args.model, "user": args.user}  # fmt: skip
    report = ctx.client.get("/admin/llm/usage", **params)
    if ctx.out.as_json:
        ctx.out.json(report)
        return 0
    groups = report["by"]

    def row(line: dict[str, Any], label: list[Any]) -> list[Any]:
        tokens = [line["prompt_tokens"], line["completion_tokens"], line["cached_tokens"]]
        return [
            *label,
            line["requests"],
            line["errors"],
            *tokens,
            line["estimated"],
            f"${line['cost_usd']:.4f}",
        ]

    table = [row(line, [line["group"].get(g) for g in groups]) for line in report["lines"]]
    if table and groups:
        table.append(row(report["total"], ["TOTAL", *[""] * (len(groups) - 1)]))
    headers = [*groups, "requests", "errors", "prompt", "completion", "cached", "estimated", "cost"]
    since = short_time(report["since"]) if report["since"] else "the beginning"
    ctx.out.line(f"# usage since {since}")
    ctx.out.table(headers, table or [row(report["total"], [""] * len(groups))], empty="no model calls yet")
    return 0
