"""Drive `copier copy` in a pseudo-terminal as a person would, and read the screen back.

pexpect runs Copier in a real pty; pyte emulates the terminal, so assertions read what a
person sees (prompt_toolkit redraws with cursor moves, so the raw byte stream is not the
screen). Used by tests/test_prompts.py and by docs/gen_pages.py, which renders the final
screen of a recorded session to SVG for the docs.

Facts about the prompts (Copier 9.19 with questionary): each question shows its help text
after a microphone mark, not its key; an input question's default is pre-filled in the
line editor (Ctrl-U clears it); a select question has a pointer that skips disabled
choices; a checkbox toggles with space; a validator's message is shown under the prompt
while typing, and Enter on an invalid answer keeps the same question open. The terminal
emulator does not answer cursor-position requests (CPR) by itself: unanswered, each prompt
waits about a second and prompt_toolkit warns once, harmlessly; Session answers them.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import pexpect
import pyte
import yaml

from matrix import ROOT

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

QMARK = "\N{MICROPHONE}"
POINTER = "\u00bb"  # questionary's pointer in select and checkbox prompts
CHECKED, UNCHECKED = "\u25cf", "\u25cb"
KEYS = {"enter": "\r", "clear": "\x15", "down": "\x1b[B", "up": "\x1b[A", "space": " "}
CPR_WARNING = "your terminal doesn't support cursor position requests (CPR)"


def questions_of(template: Path) -> dict[str, Any]:
    """The questions of a template's copier.yml, in order (settings and `_` keys left out)."""
    data = yaml.safe_load((template / "copier.yml").read_text(encoding="utf-8"))
    return {key: value for key, value in data.items() if not key.startswith("_")}


def help_line(spec: Mapping[str, Any], name: str) -> str:
    """The text Copier shows for a question: its help (its key when it has none)."""
    return " ".join(str(spec.get("help", name)).split())


def asked_when(spec: Mapping[str, Any], answers: Mapping[str, Any], template: Path = ROOT) -> bool:
    """Whether Copier asks a question, given the answers (its `when`, rendered like Copier)."""
    when = spec.get("when", True)
    if isinstance(when, bool):
        return when
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template)),
        extensions=["jinja2_ansible_filters.AnsibleCoreFiltersExtension"],
    )
    value = env.from_string(str(when)).render(**answers).strip().lower()
    try:
        return bool(float(value))
    except ValueError:
        return value not in {"", "n", "no", "f", "false", "off", "~", "null", "none"}


def expected_order(
    questions: Mapping[str, Any], answers: Mapping[str, Any], template: Path = ROOT
) -> list[str]:
    """The questions Copier asks for these answers, in copier.yml's order."""
    return [name for name, spec in questions.items() if asked_when(spec, answers, template)]


def choice_labels(spec: Mapping[str, Any]) -> dict[Any, str]:
    """value -> label of a choice question, as copier.yml declares them."""
    declared = spec["choices"]
    if isinstance(declared, list):
        return {value: str(value) for value in declared}
    return {
        (value["value"] if isinstance(value, dict) else value): label
        for label, value in declared.items()
    }


class Session:
    """One `copier copy` in a pty of `rows` x `columns`, its screen emulated by pyte."""

    def __init__(
        self,
        destination: Path,
        *extra_args: str,
        template: Path = ROOT,
        rows: int = 60,
        columns: int = 160,
        timeout: float = 60,
    ) -> None:
        self.questions = questions_of(template)
        self.screen = pyte.Screen(columns, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = bytearray()
        self.timeout = timeout
        copier = Path(sys.executable).parent / "copier"
        if (template / ".git").exists():
            extra_args = ("--vcs-ref=HEAD", *extra_args)
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(columns)}
        env.pop("NO_COLOR", None)
        self.child = pexpect.spawn(
            str(copier),
            ["copy", *extra_args, str(template), str(destination)],
            dimensions=(rows, columns),
            env=env,
            timeout=timeout,
        )

    # -- reading ------------------------------------------------------------------------
    def _pump(self, wait: float = 0.05) -> bool:
        """Feed what the program printed into the emulator; False once it has exited."""
        try:
            data = self.child.read_nonblocking(65536, timeout=wait)
        except pexpect.TIMEOUT:
            return True
        except pexpect.EOF:
            return False
        self.raw += data
        self.stream.feed(data)
        # Answer cursor-position requests as a real terminal does; unanswered, each
        # prompt waits about a second and prompt_toolkit prints a (harmless) CPR warning.
        for _ in range(data.count(b"\x1b[6n")):
            cursor = self.screen.cursor
            self.child.send(f"\x1b[{cursor.y + 1};{cursor.x + 1}R")
        return True

    def text(self) -> str:
        """The screen as lines of text (trailing spaces stripped)."""
        return "\n".join(line.rstrip() for line in self.screen.display)

    def logical_text(self) -> str:
        """The screen with wrapped rows joined back into the lines the program printed."""
        out: list[str] = []
        joined = ""
        for row in self.screen.display:
            joined += row
            if len(row.rstrip()) < self.screen.columns:
                out.append(joined.rstrip())
                joined = ""
        return "\n".join([*out, joined.rstrip()]).rstrip("\n")

    def shows(self, text: str) -> bool:
        """Whether `text` is on screen (whitespace runs compared as one space)."""
        return " ".join(text.split()) in " ".join(self.logical_text().split())

    def question_shown(self, prompt: str) -> str | None:
        """The question whose help starts with `prompt` (a long help wraps on screen)."""
        found = [
            name
            for name, spec in self.questions.items()
            if prompt and help_line(spec, name).startswith(prompt)
        ]
        return found[0] if len(found) == 1 else None

    def wait(self, predicate: Callable[[str], bool], what: str, settle: float = 0.15) -> str:
        """Read until the screen satisfies `predicate`, then until it stops changing."""
        deadline = time.monotonic() + self.timeout
        alive = True
        while not predicate(self.text()):
            if time.monotonic() > deadline or not alive:
                raise AssertionError(f"timed out waiting for {what}; screen:\n{self.text()}")
            alive = self._pump()
        # prompt_toolkit draws in several writes: let the frame settle.
        quiet_until = time.monotonic() + settle
        while time.monotonic() < quiet_until and alive:
            before = len(self.raw)
            alive = self._pump(settle / 3)
            if len(self.raw) != before:
                quiet_until = time.monotonic() + settle
        return self.text()

    def wait_for(self, text: str) -> str:
        return self.wait(lambda _: self.shows(text), repr(text))

    def prompt_line(self) -> str:
        """The help text of the question currently open (the last microphone line)."""
        lines = [line for line in self.text().splitlines() if QMARK in line]
        if not lines:
            return ""
        return " ".join(lines[-1].split(QMARK, 1)[1].split())

    def pointed(self) -> str:
        lines = [line for line in self.text().splitlines() if line.lstrip().startswith(POINTER)]
        return lines[-1] if lines else ""

    # -- typing -------------------------------------------------------------------------
    def send(self, keys: str) -> None:
        self.child.send(KEYS.get(keys, keys))

    def type_answer(self, value: str, *, clear: bool = True) -> None:
        """Replace the pre-filled default with `value` (clear=False keeps it) and press Enter."""
        if clear:
            self.send("clear")
        if value:
            self.child.send(value)
        self.send("enter")

    def select(self, label: str) -> None:
        """Move the pointer of a select prompt onto `label`'s line and press Enter."""
        self._point_at(label)
        self.send("enter")

    def check(self, labels: list[str]) -> None:
        """Tick exactly `labels` in a checkbox prompt, then press Enter."""
        screen = self.text()
        for label in labels:
            line = next(line for line in screen.splitlines() if label in line)
            if UNCHECKED in line:
                self._point_at(label)
                self.send("space")
                self.wait(lambda s, lab=label: self._is_checked(s, lab), f"{label} ticked")
        self.send("enter")

    @staticmethod
    def _is_checked(screen: str, label: str) -> bool:
        return any(label in line and CHECKED in line for line in screen.splitlines())

    def _point_at(self, label: str) -> None:
        for _ in range(30):
            self.wait(lambda s: POINTER in s, "a pointer")
            if label in self.pointed():
                return
            before = self.pointed()
            self.send("down")
            self.wait(lambda s, old=before: self.pointed() != old or False, "pointer to move")
        raise AssertionError(f"no choice {label!r} on screen:\n{self.text()}")

    def finish(self) -> int:
        """Read to the end; the exit status."""
        deadline = time.monotonic() + self.timeout
        while self._pump(0.2):
            if time.monotonic() > deadline:
                self.child.terminate(force=True)
                raise AssertionError(f"copier did not finish; screen:\n{self.text()}")
        self.child.close()
        return int(self.child.exitstatus if self.child.exitstatus is not None else -1)

    def close(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)

    def plain_output(self) -> str:
        """Everything printed, escape sequences removed (for messages printed after the prompts)."""
        text = self.raw.decode("utf-8", "replace")
        return re.sub(r"\x1b\[[0-9;?<=>]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\r", "", text)


def next_question(session: Session, previous: str) -> str | None:
    """Wait for a question other than `previous` to open; None when Copier has finished."""
    deadline = time.monotonic() + session.timeout
    while True:
        current = session.prompt_line()
        if current and current != previous:
            session.wait(lambda _: True, "the prompt to settle")
            return session.prompt_line()
        if not session._pump() or time.monotonic() > deadline:
            return None


def answer_all(session: Session, answers: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Answer every question Copier opens, in the order it opens them, from `answers`.

    A question absent from `answers` keeps its default (Enter). Returns, in order, each
    question asked with the screen as it was when the question opened (default shown);
    a prompt that is no question of copier.yml fails.
    """
    asked: list[tuple[str, str]] = []
    previous = ""
    while (current := next_question(session, previous)) is not None:
        name = session.question_shown(current)
        if name is None:
            raise AssertionError(f"a prompt that is no question of copier.yml: {current!r}")
        asked.append((name, session.logical_text()))
        if name in answers:
            answer(session, name, answers[name])
        else:
            session.send("enter")
        previous = current
    return asked


def answer(session: Session, name: str, value: Any) -> None:
    """Answer the open question `name` with `value`, the way its prompt takes it."""
    spec = session.questions[name]
    if spec.get("multiselect"):
        labels = choice_labels(spec)
        session.check([labels[item] for item in value])
    elif "choices" in spec:
        session.select(choice_labels(spec)[value])
    else:
        session.type_answer(str(value))
