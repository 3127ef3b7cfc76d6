"""`broker apply` and `broker policy ...`: configuration files, checked locally first so
mistakes print as FILE:LINE:COL before anything is sent."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from broker.cli.context import Context, Subcommands, base_dir, command, group, invalid_file, read_text
from broker.cli.errors import CliError
from broker.cli.output import short_time

EXIT_DENIED = 3
EXIT_USAGE = 2


def register(commands: Subcommands[argparse.ArgumentParser], leaf: argparse.ArgumentParser) -> None:
    parser = command(
        commands, leaf, "apply", apply_file, "apply a file of connectors, agents and policies (idempotent)"
    )
    parser.add_argument("-f", "--file", required=True, help="the YAML (or JSON) file; '-' reads stdin")

    policy = group(commands, "policy", "show, apply, validate and explain policies")
    parser = command(
        policy, leaf, "apply", policy_apply, "apply a policies file (a top-level `policies:` list)"
    )
    parser.add_argument("-f", "--file", required=True, help="the policies file; '-' reads stdin")
    parser = command(policy, leaf, "show", policy_show, "print the policies in force (or of a past revision)")
    parser.add_argument("--revision", type=int, help="show this revision instead of the current one")
    parser = command(policy, leaf, "history", policy_history, "list policy revisions, newest first")
    parser.add_argument("--limit", type=int, default=50, help="how many revisions (default 50)")
    parser = command(policy, leaf, "delete", policy_delete, "delete one policy (makes a new revision)")
    parser.add_argument("name")
    parser = command(policy, leaf, "validate", policy_validate, "check a policies or combined file offline")
    parser.add_argument("-f", "--file", required=True, help="the file; '-' reads stdin")
    parser = command(
        policy,
        leaf,
        "explain",
        policy_explain,
        "would AGENT be allowed a TOOL, RESOURCE or PROMPT? exit 0 if allowed, 3 if denied",
    )
    parser.add_argument("--agent", required=True, help="the agent's name")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--tool", help="qualified tool name, e.g. crm.get_contact")
    target.add_argument(
        "--resource", help="resource URI as clients see it, e.g. broker://crm/tables/customers"
    )
    target.add_argument("--prompt", help="prompt name, e.g. files.summarise")
    parser.add_argument("--args", help="call or prompt arguments as a JSON object, e.g. '{\"limit\": 100}'")


def apply_file(ctx: Context) -> int:
    from broker.documents import load_document
    from broker.errors import InvalidInput

    path = ctx.args.file
    try:
        document, located = load_document(read_text(path), source=path, base_dir=base_dir(path))
    except InvalidInput as exc:
        raise invalid_file(exc, path) from None
    body = document.model_dump(mode="json", exclude_unset=True)
    try:
        report = ctx.client.post("/admin/apply", body, source=Path(path).name)
    except CliError as exc:
        raise exc.within(path, located) from None
    if ctx.out.as_json:
        ctx.out.json(report)
    elif not report["changed"]:
        revision = report["policies"]["revision"]
        ctx.out.line(f"no changes: everything is already as {path} says (policy revision {revision})")
    else:
        for kind in ("connectors", "agents"):
            buckets = report[kind]
            parts = [
                f"{what} {', '.join(buckets[what])}"
                for what in ("created", "updated", "unchanged")
                if buckets[what]
            ]
            if parts:
                ctx.out.line(f"{kind + ':':12}" + "; ".join(parts))
        policies = report["policies"]
        changed = f"; changed {', '.join(policies['changed'])}" if policies["changed"] else ""
        ctx.out.line(f"{'policies:':12}revision {policies['revision']}{changed}")
        for kind, buckets in (report.get("llm") or {}).items():
            parts = [f"{what} {', '.join(buckets[what])}" for what in ("created", "updated") if buckets[what]]
            if parts:
                ctx.out.line(f"{'llm ' + kind.replace('_', '-') + ':':24}" + "; ".join(parts))
    if not ctx.out.as_json:
        for warning in report.get("warnings", []):
            ctx.out.line(f"warning: {warning}")
    return 0


def policy_apply(ctx: Context) -> int:
    from broker.documents import load_policies
    from broker.errors import InvalidInput

    path = ctx.args.file
    try:
        document, located = load_policies(read_text(path), source=path)
    except InvalidInput as exc:
        raise invalid_file(exc, path) from None
    body = document.model_dump(mode="json", exclude_unset=True)
    try:
        result = ctx.client.post("/admin/policies", body, source=Path(path).name)
    except CliError as exc:
        raise exc.within(path, located) from None
    if ctx.out.as_json:
        ctx.out.json(result)
    elif result["changed"]:
        ctx.out.line(f"policy revision {result['revision']}: changed {', '.join(result['changed'])}")
    else:
        ctx.out.line(f"no changes: the policies are already in force (revision {result['revision']})")
    return 0


def policy_show(ctx: Context) -> int:
    import yaml

    revision = ctx.args.revision
    found = ctx.client.get("/admin/policies" if revision is None else f"/admin/policies/revisions/{revision}")
    if ctx.out.as_json:
        ctx.out.json(found)
        return 0
    origin = f" from {found['source']}, {short_time(found['created_at'])}" if "source" in found else ""
    ctx.out.line(f"# policy revision {found['revision']}{origin}")
    if not found["policies"]:
        ctx.out.line("# no policies: every agent is denied every tool")
        return 0
    policies = [_compact(p) for p in found["policies"]]
    ctx.out.line(yaml.safe_dump({"policies": policies}, sort_keys=False, allow_unicode=True).rstrip())
    return 0


def _compact(value: dict[str, Any]) -> dict[str, Any]:
    """Leave out empty fields, as one would write them."""
    return {k: v for k, v in value.items() if v not in ("", [], {}, None)}


def policy_history(ctx: Context) -> int:
    rows = ctx.client.get("/admin/policies/history", limit=ctx.args.limit)
    if ctx.out.as_json:
        ctx.out.json(rows)
        return 0
    table = [[r["revision"], short_time(r["created_at"]), r["source"], r["policies"]] for r in rows]
    ctx.out.table(["revision", "created", "source", "policies"], table, empty="no policy revisions yet")
    return 0


def policy_delete(ctx: Context) -> int:
    result = ctx.client.delete(f"/admin/policies/{ctx.args.name}")
    if ctx.out.as_json:
        ctx.out.json(result)
    else:
        ctx.out.line(f"deleted policy {ctx.args.name}; revision {result['revision']} is in force")
    return 0


def policy_validate(ctx: Context) -> int:
    from broker import yamlsource
    from broker.documents import load_document, load_policies
    from broker.errors import InvalidInput

    path = ctx.args.file
    text = read_text(path)
    try:
        loaded = yamlsource.load(text, source=path).value
        combined = isinstance(loaded, dict) and bool(set(loaded) - {"policies"})
        if combined:
            document = load_document(text, source=path, base_dir=base_dir(path))[0]
            policies = document.policies
            extra = f", {len(document.connectors)} connector(s), {len(document.agents)} agent(s)"
        else:
            policies, extra = load_policies(text, source=path)[0].policies, ""
    except InvalidInput as exc:
        raise invalid_file(exc, path) from None
    if ctx.out.as_json:
        ctx.out.json({"valid": True, "policies": [p.name for p in policies]})
        return 0
    names = ", ".join(p.name for p in policies) or "none"
    ctx.out.line(
        f"{path}: valid: {len(policies)} polic{'y' if len(policies) == 1 else 'ies'} ({names}){extra}"
    )
    ctx.out.note("note: the agents and connectors policies name are checked when the file is applied")
    return 0


def policy_explain(ctx: Context) -> int:
    arguments = _parse_arguments(ctx.args.args)
    kind = "resource" if ctx.args.resource else "prompt" if ctx.args.prompt else "tool"
    target = ctx.args.resource or ctx.args.prompt or ctx.args.tool
    body = {"agent": ctx.args.agent, kind: target, "arguments": arguments}
    result = ctx.client.post("/admin/policies/explain", body)
    if ctx.out.as_json:
        ctx.out.json(result)
    else:
        verdict = "ALLOW" if result["allowed"] else "DENY"
        named = target if kind == "tool" else f"{kind} {target}"
        ctx.out.line(f"{verdict} {ctx.args.agent} -> {named}")
        ctx.out.line(f"  reason: {result['reason']}")
        for violation in result["violations"]:
            ctx.out.line(f"  - {violation['reason']}")
        ctx.out.line(f"  policy revision: {result['revision']}")
        if not result["tool_exists"]:
            ctx.out.line(f"  note: no connector offers this {kind} now; a request would fail as unknown")
        if not result["agent_enabled"]:
            ctx.out.line("  note: the agent is disabled; its keys do not authenticate")
    return 0 if result["allowed"] else EXIT_DENIED


def _parse_arguments(raw: str | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise CliError(f"--args is not valid JSON: {exc}", exit_code=EXIT_USAGE) from None
    if not isinstance(value, dict):
        raise CliError("--args must be a JSON object, e.g. '{\"limit\": 10}'", exit_code=EXIT_USAGE)
    return value
