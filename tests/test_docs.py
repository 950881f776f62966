"""Documentation that is generated from the code stays true to it."""

from __future__ import annotations

from serviceprofit.docgen import render_scenario_reference


def test_scenario_reference_is_current(request):
    """docs/scenarios.md equals what the schema generates (regenerate with docgen)."""
    path = request.config.rootpath / "docs" / "scenarios.md"
    assert path.read_text() == render_scenario_reference(), (
        "docs/scenarios.md is stale: run `python -m serviceprofit.docgen docs/scenarios.md`"
    )


def test_every_key_is_documented():
    """No scenario key lacks a meaning in the reference."""
    for line in render_scenario_reference().splitlines():
        if line.startswith("| `") or line.startswith("| **`"):
            assert not line.rstrip().endswith("|  |"), line


def test_odd_provenance_covers_every_behaviour_constant_with_its_default(request):
    """docs/ODD.md gives every calibration constant, at its current default, a source."""
    import re

    from serviceprofit import Scenario

    text = (request.config.rootpath / "docs" / "ODD.md").read_text()
    rows = dict(re.findall(r"^\| `((?:behaviour|economics)\.\w+)` \| ([^|]+) \|", text, re.M))
    defaults = Scenario()
    for section in ("behaviour", "economics"):
        for name, value in getattr(defaults, section).model_dump().items():
            key = f"{section}.{name}"
            assert key in rows, f"{key} has no provenance row in docs/ODD.md"
            if isinstance(value, (int, float)):
                assert float(rows[key]) == float(value), f"{key}: ODD says {rows[key]}"


def test_lazy_exports_stay_functions_after_their_modules_load():
    """Importing the CLI (and so every submodule) leaves serviceprofit.compare and
    serviceprofit.sweep the functions, not modules of the same name."""
    import inspect

    import serviceprofit
    import serviceprofit.cli
    import serviceprofit.comparison.compare
    import serviceprofit.sweeps.sweep

    assert inspect.isfunction(serviceprofit.compare)
    assert inspect.isfunction(serviceprofit.sweep)


def _reference_rows() -> dict[str, list[str]]:
    """docs/scenarios.md's key table: key -> [type, range, default, meaning]."""
    rows = {}
    for line in render_scenario_reference().splitlines():
        if line.startswith("| `") or line.startswith("| **`"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) == 5:  # the key table, not a preset table
                rows[cells[0].strip("*`")] = cells[1:]
    return rows


def test_optional_keys_are_not_marked_required():
    """A key with a default (or filled by the default scenario) is not 'required'; a key
    nothing fills is. An event's `until` and `label`, and `description`, are optional."""
    rows = _reference_rows()
    for key in ("description", "events.N.until", "events.N.label"):
        assert rows[key][2] != "required", f"{key} is optional but documented as required"
    for key in ("events.N.week", "events.N.set"):
        assert rows[key][2] == "required", f"{key} has no default but is not shown required"


def test_a_keys_meaning_is_its_attribute_docstring_in_the_source():
    """The reference shows the docstring under each field in scenario.py, even where a
    `Field(description=...)` says something else (it did for handle_time)."""
    import ast
    import inspect
    import re

    import serviceprofit.model.scenario as scenario_module

    tree = ast.parse(inspect.getsource(scenario_module))
    docs: dict[tuple[str, str], str] = {}
    for cls in (n for n in tree.body if isinstance(n, ast.ClassDef)):
        for node, after in zip(cls.body, cls.body[1:], strict=False):
            if isinstance(node, ast.AnnAssign) and isinstance(after, ast.Expr):
                text = re.sub(r"\s+", " ", inspect.cleandoc(after.value.value)).strip()
                docs[(cls.name, node.target.id)] = text
    rows = _reference_rows()
    assert rows["strategy.process.handle_time"][3] == docs[("Process", "handle_time")]
    checked = 0
    for key, cells in rows.items():
        if key.startswith(("market.", "firms.")):
            continue  # a market file's keys: their docstrings are in market.py
        name = key.rsplit(".", 1)[-1]
        candidates = {text for (_, field), text in docs.items() if field == name}
        if len(candidates) == 1:  # the field name says which docstring it is
            assert cells[3] == candidates.pop(), f"{key}: documented text is not its docstring"
            checked += 1
    assert checked > 50, f"only {checked} keys could be checked against their docstrings"


def _odd_section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("\n### ", start + len(heading))
    return text[start : end if end >= 0 else len(text)]


def test_odd_defines_every_metric_and_summary_field(request):
    """Every weekly metric (firm.METRICS) and summary field (result.SUMMARY_FIELDS) has a
    non-empty definition row in docs/ODD.md's Outputs section."""
    import re

    from serviceprofit.model.firm import METRICS
    from serviceprofit.model.result import SUMMARY_FIELDS

    text = (request.config.rootpath / "docs" / "ODD.md").read_text()
    outputs = _odd_section(text, "### 3.4 Outputs")
    defined = dict(re.findall(r"^\| `(\w+)` \| (.+?) \|$", outputs, re.M))
    for name in (*METRICS, *SUMMARY_FIELDS):
        assert name in defined, f"{name} is not defined in docs/ODD.md (section 3.4)"
        assert len(defined[name].strip()) > 5, f"{name}: empty definition"


def test_odd_stands_alone(request):
    """docs/ODD.md points at no file outside the repository (it once cited
    ../shared/MODEL.md), and every repository path it names exists."""
    import re

    root = request.config.rootpath
    text = (root / "docs" / "ODD.md").read_text()
    assert "MODEL.md" not in text and "shared/" not in text and "../" not in text
    for path in re.findall(r"`((?:src|docs|tests|scenarios|experiments)/[\w./-]+)`", text):
        assert (root / path).exists(), f"docs/ODD.md names {path}, which does not exist"


def test_every_cli_option_has_a_help_line():
    """Each argument of each subcommand says what it is in --help."""
    import argparse

    from serviceprofit.cli import build_parser

    parser = build_parser()
    missing = []

    def walk(p: argparse.ArgumentParser, where: str) -> None:
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, f"{where} {name}")
                for choice in action._choices_actions:
                    if not choice.help:
                        missing.append(f"{where} {choice.dest}")
            elif not action.help or action.help == argparse.SUPPRESS:
                missing.append(f"{where} {'/'.join(action.option_strings) or action.dest}")

    walk(parser, "serviceprofit")
    assert not missing, f"options without help: {missing}"
