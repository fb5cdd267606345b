"""Every refusal the portal writes can be read in Kazakh, Russian and English (issue 17).

A problem's detail is the catalog's text for the `message_key` its error was raised with;
an error raised with only an English sentence reaches a Kazakh or Russian caller in
English. These checks read the production code (shared/portal_shared, each service's
package, gateway/gateway) rather than run it, so a raise site added later is held to the
rule without a test of its own:

- no AppError (or subclass) is built with a detail and no `message_key`, nor with an
  `errors` entry whose `message` is text rather than a `Message`;
- every key the code names is in all three catalogs, and every error's slug has a title;
- a pydantic validator in a `schemas.py` refuses with `portal_shared.validation.invalid`
  (worded by the catalog), never a `ValueError` whose English the caller would not get.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from portal_shared.i18n import LANGUAGES, catalog

ROOT = Path(__file__).resolve().parents[1]
KEY = re.compile(r"^(?:error|title|validation|format|type)\.[A-Za-z0-9_-]+$")


def packages() -> list[Path]:
    found = [ROOT / "shared" / "portal_shared", ROOT / "gateway" / "gateway"]
    for service in sorted((ROOT / "services").iterdir()):
        found += [
            p
            for p in sorted(service.iterdir())
            if (p / "__init__.py").is_file() and p.name not in ("tests", "migrations")
        ]
    return found


@dataclass(frozen=True)
class Source:
    path: Path
    tree: ast.Module

    @property
    def name(self) -> str:
        return str(self.path.relative_to(ROOT))


def sources() -> list[Source]:
    return [
        Source(path, ast.parse(path.read_text(encoding="utf-8"), str(path)))
        for package in packages()
        for path in sorted(package.rglob("*.py"))
    ]


SOURCES = sources()


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _classes() -> Iterator[ast.ClassDef]:
    for source in SOURCES:
        yield from (n for n in ast.walk(source.tree) if isinstance(n, ast.ClassDef))


def app_errors() -> dict[str, ast.ClassDef]:
    """The classes derived from AppError, by name (class names are unique across packages)."""
    bases = {c.name: {_name(b) for b in c.bases} for c in _classes()}
    found = {"AppError"}
    grew = True
    while grew:
        more = {name for name, of in bases.items() if of & found} - found
        found |= more
        grew = bool(more)
    return {c.name: c for c in _classes() if c.name in found}


ERRORS = app_errors()


def test_the_scan_sees_the_errors_of_every_package() -> None:
    assert {"AppError", "Forbidden", "InvalidRoles", "AccountRequired", "OriginNotAllowed"} <= (
        ERRORS.keys()
    )
    assert len(SOURCES) > 100


def test_no_error_is_raised_with_an_english_detail_and_no_message_key() -> None:
    offenders = []
    for source in SOURCES:
        for node in ast.walk(source.tree):
            if not isinstance(node, ast.Call) or _name(node.func) not in ERRORS:
                continue
            keywords = {k.arg for k in node.keywords}
            if (node.args or "detail" in keywords) and "message_key" not in keywords:
                offenders.append(f"{source.name}:{node.lineno} {_name(node.func)}")
    assert offenders == [], "raise these with message_key= (and params=):\n" + "\n".join(offenders)


def test_no_listed_violation_of_an_error_is_english_text() -> None:
    """An `errors` entry's `message` is a `Message` (worded like the detail), never text."""
    offenders = []
    for source in SOURCES:
        for node in ast.walk(source.tree):
            if not isinstance(node, ast.Call) or _name(node.func) not in ERRORS:
                continue
            for keyword in node.keywords:
                for entry in ast.walk(keyword.value):
                    if not isinstance(entry, ast.Dict):
                        continue
                    for key, value in zip(entry.keys, entry.values, strict=True):
                        if (
                            isinstance(key, ast.Constant)
                            and key.value == "message"
                            and isinstance(value, ast.Constant | ast.JoinedStr)
                        ):
                            offenders.append(f"{source.name}:{value.lineno}")
    assert offenders == [], "give these a Message(key, params):\n" + "\n".join(offenders)


def _literals() -> Iterator[tuple[str, int, str]]:
    """Every string in the code that reads as a catalog key, and the `validation.<name>` of
    each `invalid("<name>")`."""
    for source in SOURCES:
        # The start of an f-string key (`f"error.too-many-from-{who}"`) is no key itself.
        parts = {
            id(value)
            for node in ast.walk(source.tree)
            if isinstance(node, ast.JoinedStr)
            for value in node.values
        }
        for node in ast.walk(source.tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if KEY.match(node.value) and id(node) not in parts:
                    yield source.name, node.lineno, node.value
            elif (
                isinstance(node, ast.Call)
                and _name(node.func) == "invalid"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                name = str(node.args[0].value)
                # A name without a hyphen would be read as one of pydantic's own error types.
                assert "-" in name, f"{source.name}:{node.lineno} invalid({name!r})"
                yield source.name, node.lineno, f"validation.{name}"


def test_every_message_key_in_the_code_is_in_every_catalog() -> None:
    used = list(_literals())
    assert len(used) > 50
    for language in LANGUAGES:
        missing = [
            f"{where}:{line} {key}" for where, line, key in used if key not in catalog(language)
        ]
        assert missing == [], (language, missing)


def test_every_problem_slug_has_a_title_in_every_catalog() -> None:
    slugs = set()
    for cls in ERRORS.values():
        for statement in cls.body:
            if (
                isinstance(statement, ast.Assign | ast.AnnAssign)
                and _name(
                    statement.targets[0] if isinstance(statement, ast.Assign) else statement.target
                )
                == "slug"
                and isinstance(statement.value, ast.Constant)
            ):
                slugs.add(str(statement.value.value))
    assert "forbidden" in slugs
    for language in LANGUAGES:
        missing = sorted(s for s in slugs if f"title.{s}" not in catalog(language))
        assert missing == [], (language, missing)


def test_validators_refuse_with_catalog_messages() -> None:
    offenders = []
    for source in SOURCES:
        if source.path.name != "schemas.py":
            continue
        for node in ast.walk(source.tree):
            if isinstance(node, ast.Raise) and node.exc is not None:
                called = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                if _name(called) in ("ValueError", "AssertionError", "PydanticCustomError"):
                    offenders.append(f"{source.name}:{node.lineno}")
    assert offenders == [], "raise portal_shared.validation.invalid(...) instead:\n" + "\n".join(
        offenders
    )
