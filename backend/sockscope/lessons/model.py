"""A lesson is data: one TOML file per lesson in ``data/``, loaded and checked here.

A step is either a command (the same JSON the API takes, with ``{port:NAME}``
standing for the port a socket of the lab is bound to) or an action of the
lesson's own (wait for a condition, pause, measure IPC, run the framing or
byte-order workbench). A step may ask a question before it runs (``predict``)
and reveal the answer, and ``why``, after; its ``key`` lists the words that would give
the answer away, which no text shown before the reveal may contain (a test reads every
step up to each question). Checks name a function of
:mod:`sockscope.lessons.checks` and the claim (DESIGN.md numbering) it proves.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from sockscope.contract.lessons import LessonDefinition, LessonOutline

DATA_DIR = Path(__file__).parent / "data"
ACTIONS = (
    "wait", "pause", "ipc", "framing", "byteorder", "shapes", "endings", "together", "sysctl",
    "nagle", "fdlimit",
)  # fmt: skip
# What a step or check may need of the machine; where it is missing, the lesson says so
# and skips them instead of failing.
NEEDS = ("private_network", "ipv6")


class LessonError(Exception):
    """A lesson file that does not make sense (named with the file and step)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Prediction:
    question: str
    choices: tuple[str, ...]
    answer: int  # index into choices
    why: str  # shown once the kernel has answered
    # Words that give the answer away: no step text up to the question may contain them.
    key: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    text: str
    command: dict[str, Any] | None = None
    action: dict[str, Any] | None = None
    expect: tuple[str, ...] = ("ok",)  # outcomes that are fine: "ok", an errno name, "blocked"
    repeat_until: str | None = None  # repeat the command until this errno (bounded)
    repeat_max: int = 60
    observe: dict[str, Any] | None = None  # {name, socket, figure}: remember a figure after
    predict: Prediction | None = None
    wait: float | None = None  # seconds to wait for a blocking call (the runner's default)
    needs: str | None = None  # one of NEEDS


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckSpec:
    claim: int
    check: str  # a function name in sockscope.lessons.checks
    # The claim in words, shown once the check has its evidence; until then the page shows
    # ``asks``, a neutral question that does not give the claim (the answer) away.
    label: str
    asks: str
    params: dict[str, Any] = field(default_factory=dict)
    needs: str | None = None  # one of NEEDS


@dataclass(frozen=True, slots=True, kw_only=True)
class Lesson:
    id: str
    title: str
    howto_sections: tuple[str, ...]  # the HOWTO's sections it follows; none: beyond the HOWTO
    sources: tuple[str, ...]  # what it cites beyond the HOWTO (man pages, RFCs)
    claims: tuple[int, ...]
    teaser: str  # what the lesson explores, shown before it runs: it answers nothing
    summary: str  # what it shows: it answers the questions, so the page folds it until the end
    steps: tuple[Step, ...]
    checks: tuple[CheckSpec, ...]

    def outline(self) -> LessonOutline:
        return {
            "id": self.id,
            "title": self.title,
            "howto_sections": list(self.howto_sections),
            "sources": list(self.sources),
            "claims": list(self.claims),
            "teaser": self.teaser,
            "summary": self.summary,
        }


def parse_lesson(raw: dict[str, Any], source: str) -> Lesson:
    """Raises LessonError naming ``source`` and the step at fault."""
    try:
        steps = tuple(_step(s, f"{source} step {i + 1}") for i, s in enumerate(raw["steps"]))
        checks = tuple(
            CheckSpec(
                claim=int(c["claim"]),
                check=str(c["check"]),
                label=str(c["label"]).strip(),
                asks=str(c["asks"]).strip(),
                params=dict(c.get("params", {})),
                needs=_needs(c.get("needs"), f"{source} check {c.get('check')}"),
            )
            for c in raw.get("checks", [])
        )
        lesson = Lesson(
            id=str(raw["id"]),
            title=str(raw["title"]),
            howto_sections=tuple(raw["howto_sections"]),
            sources=tuple(str(x) for x in raw.get("sources", [])),
            claims=tuple(int(c) for c in raw["claims"]),
            teaser=str(raw["teaser"]).strip(),
            summary=str(raw["summary"]).strip(),
            steps=steps,
            checks=checks,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise LessonError(f"{source}: {exc!r}") from exc
    # Each claim is proven on any machine by one check at least, unless the whole lesson
    # needs something (its checks then say why not where the machine lacks it).
    needed = _needs(raw.get("needs"), f"{source} needs")
    missing = set(lesson.claims) - {c.claim for c in lesson.checks if c.needs in (None, needed)}
    if missing:
        raise LessonError(f"{source}: claims {sorted(missing)} have no check")
    from sockscope.lessons import checks as check_functions

    for spec in lesson.checks:
        if not callable(getattr(check_functions, spec.check, None)):
            raise LessonError(f"{source}: unknown check {spec.check!r}")
    return lesson


def _needs(value: Any, where: str) -> str | None:
    if value is not None and value not in NEEDS:
        raise LessonError(f"{where}: needs {value!r}, expected one of {', '.join(NEEDS)}")
    return None if value is None else str(value)


def _step(raw: dict[str, Any], where: str) -> Step:
    command, action = raw.get("command"), raw.get("action")
    if (command is None) == (action is None):
        raise LessonError(f"{where}: a step has a command or an action, not both or neither")
    if action is not None and action.get("do") not in ACTIONS:
        raise LessonError(f"{where}: unknown action {action.get('do')!r}")
    predict = raw.get("predict")
    prediction = None
    if predict is not None:
        prediction = Prediction(
            question=str(predict["question"]),
            choices=tuple(str(c) for c in predict["choices"]),
            answer=int(predict["answer"]),
            why=str(predict["why"]).strip(),
            key=tuple(
                [predict["key"]] if isinstance(predict.get("key"), str) else predict.get("key", [])
            ),
        )
        if not 0 <= prediction.answer < len(prediction.choices):
            raise LessonError(f"{where}: predict.answer is not one of the choices")
    expect = raw.get("expect", ["ok"])
    return Step(
        text=str(raw["text"]).strip(),
        command=dict(command) if command is not None else None,
        action=dict(action) if action is not None else None,
        expect=tuple([expect] if isinstance(expect, str) else expect),
        repeat_until=raw.get("repeat_until"),
        repeat_max=int(raw.get("repeat_max", 60)),
        observe=raw.get("observe"),
        predict=prediction,
        wait=float(raw["wait"]) if "wait" in raw else None,
        needs=_needs(raw.get("needs"), where),
    )


@cache
def all_lessons() -> tuple[Lesson, ...]:
    """Every lesson, in file-name order (the files are numbered)."""
    lessons = []
    for path in sorted(DATA_DIR.glob("*.toml")):
        with path.open("rb") as file:
            lessons.append(parse_lesson(tomllib.load(file), path.name))
    return tuple(lessons)


def find_lesson(lesson_id: str) -> Lesson | None:
    return next((lesson for lesson in all_lessons() if lesson.id == lesson_id), None)


def public(lesson: Lesson) -> LessonDefinition:
    """The lesson as the page shows it (answers included: they are revealed after the step)."""
    return {
        **lesson.outline(),
        "steps": [
            {
                "text": s.text,
                "kind": "command" if s.command is not None else s.action["do"],  # type: ignore[index]
                "command": s.command,
                "action": s.action,
                "needs": s.needs,
                "predict": None
                if s.predict is None
                else {
                    "question": s.predict.question,
                    "choices": list(s.predict.choices),
                    "answer": s.predict.answer,
                    "why": s.predict.why,
                },
            }
            for s in lesson.steps
        ],
        "checks": [
            {"claim": c.claim, "check": c.check, "label": c.label, "asks": c.asks, "needs": c.needs}
            for c in lesson.checks
        ],
    }
