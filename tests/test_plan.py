"""The moderation core without Telegram: `plan` row by row (the README's escalation and
rights tables), who may press or command what, and the button data."""

# ruff: noqa: E501 - the tables keep one case per line, so a row reads like the README's

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.moderation import (
    Action,
    ChatSettings,
    Deed,
    Media,
    Mode,
    OnError,
    Penalty,
    Shortfall,
    judged_in_group,
)
from bot.moderation.callbacks import (
    MAX_BYTES,
    ConfirmPress,
    CutoutPress,
    MenuPress,
    Press,
    ReportPress,
    Verb,
    encode,
    parse,
)
from bot.moderation.plan import (
    Allowed,
    Breaks,
    Enforce,
    History,
    Nothing,
    OverGroupLimit,
    Passed,
    Plan,
    Poster,
    PosterKind,
    Reason,
    ReportOnly,
    Sanction,
    Unchecked,
    Unsure,
    Verdict,
    plan,
)
from bot.moderation.rights import (
    COMMAND_RIGHTS,
    NOBODY,
    OWNER,
    Denied,
    Granted,
    Member,
    Permission,
    Right,
    Status,
    Unknown,
    permit,
    press_rights,
)

ON = ChatSettings(mode=Mode.ON, warn_limit=3, penalty=Penalty.MUTE, penalty_seconds=3600)
MEMBER = Poster(PosterKind.MEMBER, 22)
CHANNEL = Poster(PosterKind.CHANNEL, -100900)
NO_ID = Poster(PosterKind.MEMBER, None)
BOT_ALL = Member(Status.ADMIN, frozenset({Right.DELETE, Right.RESTRICT}))
BOT_NO_DELETE = Member(Status.ADMIN, frozenset({Right.RESTRICT}))
BOT_NO_RESTRICT = Member(Status.ADMIN, frozenset({Right.DELETE}))
BOT_NONE = Member(Status.ADMIN)
MUTE_1H = Sanction(Penalty.MUTE, 3600)
BAN_1H = Sanction(Penalty.BAN, 3600)
NO_SHORTFALL: tuple[Shortfall, ...] = ()


def _enforce(
    *,
    delete: bool = False,
    warn: bool = False,
    warnings: tuple[int, int] | None = None,
    sanction: Sanction | None = None,
    shortfalls: tuple[Shortfall, ...] = NO_SHORTFALL,
    dry: bool = False,
) -> Enforce:
    return Enforce(dry, delete, warn, warnings, sanction, shortfalls)


def _with(**changes: object) -> ChatSettings:
    return replace(ON, **changes)  # type: ignore[arg-type]


# Each row: verdict, poster, settings, the bot's rights, warnings before, the plan.
ROWS: list[tuple[str, Verdict, Poster, ChatSettings, Member | None, int, Plan]] = [
    # -- who and whether ---------------------------------------------------------------
    ("moderation off", Breaks(), MEMBER, ChatSettings(), BOT_ALL, 0, Nothing(Reason.OFF)),
    ("an admin's post", Breaks(), Poster(PosterKind.EXEMPT), ON, BOT_ALL, 0, Nothing(Reason.EXEMPT)),
    ("admin list unreadable", Breaks(), Poster(PosterKind.UNKNOWN, 22), ON, BOT_ALL, 0, Unsure()),
    ("unsure in a dry run", Passed(), Poster(PosterKind.UNKNOWN, 22), _with(mode=Mode.DRY), BOT_ALL, 0, Unsure()),
    ("passes", Passed(), MEMBER, ON, BOT_ALL, 0, Nothing(Reason.PASSED)),
    ("allowed image", Allowed(), MEMBER, ON, BOT_ALL, 2, Nothing(Reason.ALLOWED)),
    ("unchecked, reported", Unchecked(), MEMBER, ON, BOT_ALL, 0, ReportOnly(dry=False)),
    ("unchecked, dry", Unchecked(), MEMBER, _with(mode=Mode.DRY), BOT_ALL, 0, ReportOnly(dry=True)),
    ("unchecked, let through", Unchecked(), MEMBER, _with(on_error=OnError.ALLOW), BOT_ALL, 0, Nothing(Reason.LET_THROUGH)),
    ("a file that is no image, files not checked", Unchecked(not_an_image=True), MEMBER, ON, BOT_ALL, 0, Nothing(Reason.NOT_AN_IMAGE)),
    ("a file that is no image, files checked", Unchecked(not_an_image=True), MEMBER, _with(check_files=True), BOT_ALL, 0, ReportOnly(dry=False)),
    ("the bot's rights unknown", Breaks(), MEMBER, ON, None, 0, Unsure()),
    ("group limit: first today", OverGroupLimit(first=True), MEMBER, ON, BOT_ALL, 0, ReportOnly(dry=False)),
    ("group limit: already told", OverGroupLimit(first=False), MEMBER, ON, BOT_ALL, 0, Nothing(Reason.LIMIT_TOLD)),
    ("group limit, onerror allow", OverGroupLimit(first=True), MEMBER, _with(on_error=OnError.ALLOW), BOT_ALL, 0, Nothing(Reason.LET_THROUGH)),
    # -- the action -----------------------------------------------------------------------
    ("warn", Breaks(), MEMBER, ON, BOT_ALL, 0, _enforce(warn=True, warnings=(1, 3))),
    ("delete", Breaks(), MEMBER, _with(action=Action.DELETE), BOT_ALL, 0, _enforce(delete=True, warnings=(1, 3))),
    ("delete without the right: warn", Breaks(), MEMBER, _with(action=Action.DELETE), BOT_NO_DELETE, 0, _enforce(warn=True, warnings=(1, 3), shortfalls=(Shortfall.CANNOT_DELETE,))),
    ("report only: no score", Breaks(), MEMBER, _with(action=Action.REPORT), BOT_ALL, 5, _enforce()),
    ("an author without an id", Breaks(), NO_ID, ON, BOT_ALL, 0, _enforce(warn=True)),
    # -- escalation -----------------------------------------------------------------------
    ("below the limit", Breaks(), MEMBER, ON, BOT_ALL, 1, _enforce(warn=True, warnings=(2, 3))),
    ("at the limit: mute", Breaks(), MEMBER, ON, BOT_ALL, 2, _enforce(warn=True, warnings=(3, 3), sanction=MUTE_1H)),
    ("over the limit: mute", Breaks(), MEMBER, ON, BOT_ALL, 7, _enforce(warn=True, warnings=(8, 3), sanction=MUTE_1H)),
    ("at the limit: ban", Breaks(), MEMBER, _with(penalty=Penalty.BAN), BOT_ALL, 2, _enforce(warn=True, warnings=(3, 3), sanction=BAN_1H)),
    ("limit 1, forever", Breaks(), MEMBER, _with(warn_limit=1, penalty_seconds=0), BOT_ALL, 0, _enforce(warn=True, warnings=(1, 1), sanction=Sanction(Penalty.MUTE, 0))),
    ("a channel is banned for good, not muted", Breaks(), CHANNEL, ON, BOT_ALL, 2, _enforce(warn=True, warnings=(3, 3), sanction=Sanction(Penalty.BAN, 0))),
    ("at the limit without the right", Breaks(), MEMBER, ON, BOT_NO_RESTRICT, 2, _enforce(warn=True, warnings=(3, 3), shortfalls=(Shortfall.CANNOT_RESTRICT,))),
    ("no rights at all", Breaks(), MEMBER, _with(action=Action.DELETE), BOT_NONE, 2, _enforce(warn=True, warnings=(3, 3), shortfalls=(Shortfall.CANNOT_DELETE, Shortfall.CANNOT_RESTRICT))),
    ("delete and ban at the limit", Breaks(), MEMBER, _with(action=Action.DELETE, penalty=Penalty.BAN), BOT_ALL, 2, _enforce(delete=True, warnings=(3, 3), sanction=BAN_1H)),
    # -- dry run: the same plan, marked dry ----------------------------------------------------
    ("dry: delete and ban", Breaks(), MEMBER, _with(mode=Mode.DRY, action=Action.DELETE, penalty=Penalty.BAN), BOT_ALL, 2, _enforce(dry=True, delete=True, warnings=(3, 3), sanction=BAN_1H)),
    ("dry without rights", Breaks(), MEMBER, _with(mode=Mode.DRY, action=Action.DELETE), BOT_NONE, 2, _enforce(dry=True, warn=True, warnings=(3, 3), shortfalls=(Shortfall.CANNOT_DELETE, Shortfall.CANNOT_RESTRICT))),
]  # fmt: skip


@pytest.mark.parametrize(
    ("verdict", "poster", "settings", "bot", "warnings", "expected"),
    [row[1:] for row in ROWS],
    ids=[row[0] for row in ROWS],
)
def test_plan(
    verdict: Verdict,
    poster: Poster,
    settings: ChatSettings,
    bot: Member | None,
    warnings: int,
    expected: Plan,
) -> None:
    assert plan(verdict, poster, settings, bot, History(warnings)) == expected


def test_a_plan_lists_its_deeds_in_order() -> None:
    planned = _enforce(delete=True, warnings=(3, 3), sanction=BAN_1H)
    assert planned.deeds == (Deed.DELETED, Deed.BANNED)
    assert _enforce(warn=True, sanction=MUTE_1H).deeds == (Deed.WARNED, Deed.MUTED)


@given(
    warnings=st.integers(0, 200),
    limit=st.integers(1, 100),
    action=st.sampled_from(Action),
    penalty=st.sampled_from(Penalty),
    can_delete=st.booleans(),
    can_restrict=st.booleans(),
    dry=st.booleans(),
)
def test_plan_rules_hold_for_any_settings(
    warnings: int,
    limit: int,
    action: Action,
    penalty: Penalty,
    can_delete: bool,
    can_restrict: bool,
    dry: bool,
) -> None:
    rights = {Right.DELETE} if can_delete else set()
    rights |= {Right.RESTRICT} if can_restrict else set()
    bot = Member(Status.ADMIN, frozenset(rights))
    settings = _with(
        warn_limit=limit, action=action, penalty=penalty, mode=Mode.DRY if dry else Mode.ON
    )
    planned = plan(Breaks(), MEMBER, settings, bot, History(warnings))
    assert isinstance(planned, Enforce)
    assert planned.dry is dry
    assert not (planned.delete and not can_delete), "never deletes without the right"
    assert not (planned.sanction and not can_restrict), "never restricts without the right"
    assert planned.delete or planned.warn or action is Action.REPORT, "the group sees it"
    reached = action is not Action.REPORT and warnings + 1 >= limit
    assert (planned.sanction is not None) == (reached and can_restrict)
    assert (Shortfall.CANNOT_RESTRICT in planned.shortfalls) == (reached and not can_restrict)


# -- rights ----------------------------------------------------------------------------------

PIN_ONLY = Member(Status.ADMIN, frozenset())  # can_pin_messages is not a right moderation uses
RESTRICT_ONLY = Member(Status.ADMIN, frozenset({Right.RESTRICT}))
DELETE_ONLY = Member(Status.ADMIN, frozenset({Right.DELETE}))
INFO_ONLY = Member(Status.ADMIN, frozenset({Right.CHANGE_INFO}))

# Every button of the README's rights table: who presses, the bot's rights, the answer.
PRESSES: list[tuple[Verb, tuple[Deed, ...], Member | None, Member, Permission]] = [
    (Verb.BAN, (), PIN_ONLY, BOT_ALL, Denied(Right.RESTRICT, bot=False)),
    (Verb.BAN, (), NOBODY, BOT_ALL, Denied(Right.RESTRICT, bot=False)),
    (Verb.BAN, (), RESTRICT_ONLY, BOT_ALL, Granted()),
    (Verb.BAN, (), OWNER, BOT_ALL, Granted()),
    (Verb.BAN, (), OWNER, BOT_NO_RESTRICT, Denied(Right.RESTRICT, bot=True)),
    (Verb.BAN, (), None, BOT_ALL, Unknown()),
    (Verb.ALLOW, (), RESTRICT_ONLY, BOT_ALL, Denied(Right.CHANGE_INFO, bot=False)),
    (Verb.ALLOW, (), INFO_ONLY, BOT_NONE, Granted()),
    (Verb.UNDO, (Deed.DELETED,), RESTRICT_ONLY, BOT_ALL, Denied(Right.DELETE, bot=False)),
    (Verb.UNDO, (Deed.DELETED,), DELETE_ONLY, BOT_ALL, Granted()),
    (Verb.UNDO, (Deed.DELETED,), DELETE_ONLY, BOT_NO_DELETE, Denied(Right.DELETE, bot=True)),
    (Verb.UNDO, (Deed.WARNED, Deed.MUTED), RESTRICT_ONLY, BOT_ALL, Denied(Right.CHANGE_INFO, bot=False)),
    (Verb.UNDO, (Deed.DELETED, Deed.BANNED), DELETE_ONLY, BOT_ALL, Denied(Right.RESTRICT, bot=False)),
    (Verb.UNDO, (Deed.DELETED, Deed.BANNED), OWNER, BOT_ALL, Granted()),
]  # fmt: skip


@pytest.mark.parametrize(("verb", "deeds", "person", "bot", "expected"), PRESSES)
def test_each_button_needs_its_right_from_the_presser_and_the_bot(
    verb: Verb, deeds: tuple[Deed, ...], person: Member | None, bot: Member, expected: Permission
) -> None:
    assert permit(person, bot, press_rights(verb, deeds)) == expected


@pytest.mark.parametrize("command", sorted(COMMAND_RIGHTS))
@pytest.mark.parametrize(
    ("person", "allowed"),
    [(OWNER, True), (INFO_ONLY, True), (PIN_ONLY, False), (RESTRICT_ONLY, False), (NOBODY, False)],
)
def test_every_admin_command_needs_the_settings_right(
    command: str, person: Member, allowed: bool
) -> None:
    permission = permit(person, None, (COMMAND_RIGHTS[command],))
    assert permission == (Granted() if allowed else Denied(Right.CHANGE_INFO, bot=False))


def test_a_member_who_is_not_an_admin_holds_no_right_even_if_listed() -> None:
    listed = Member(Status.MEMBER, frozenset(Right))
    assert not any(listed.may(right) for right in Right)
    assert all(OWNER.may(right) for right in Right)


# -- button data -------------------------------------------------------------------------------

_IDS = st.text(alphabet="0123456789abcdef", min_size=1, max_size=24)
_PRESSES = st.one_of(
    st.builds(ReportPress, _IDS, st.sampled_from(Verb)),
    st.builds(ConfirmPress, _IDS),
    st.builds(CutoutPress, _IDS),
    st.builds(MenuPress, _IDS, st.from_regex(r"[a-z0-9_.-]{1,32}", fullmatch=True)),
)


@given(_PRESSES)
def test_every_press_fits_in_64_bytes_and_reads_back(press: Press) -> None:
    data = encode(press)
    assert len(data.encode()) <= MAX_BYTES
    assert parse(data) == press


@given(st.text(max_size=80))
def test_any_other_data_parses_to_nothing_or_a_press(data: str) -> None:
    parsed = parse(data)
    assert parsed is None or encode(parsed) == data


def test_reports_sent_before_typed_data_still_parse() -> None:
    assert parse("r:0a1b2c3d4e5f:undo") == ReportPress("0a1b2c3d4e5f", Verb.UNDO)
    assert parse("r:0a1b2c3d4e5f:kick") is None
    assert parse("r:0a1b2c3d4e5f:undo\n") is None


# -- the README's tables are what the code does ----------------------------------------------

README = Path(__file__).parents[1] / "README.md"
_RIGHT_BY_NAME = {
    "Delete messages": Right.DELETE,
    "Ban users": Right.RESTRICT,
    "Change group info": Right.CHANGE_INFO,
}


def _table(header: str) -> list[list[str]]:
    """The rows of the README table whose header line starts with `header`."""
    lines = README.read_text().splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def test_the_readme_rights_table_is_what_the_code_checks() -> None:
    rows = {row[0]: (row[1], row[2]) for row in _table("| command or button |")}
    for command, right in COMMAND_RIGHTS.items():
        [key] = [name for name in rows if name.startswith(f"`/{command}`")]
        assert _RIGHT_BY_NAME[rows[key][0]] is right, command
        assert rows[key][1] == "—"
    buttons = {
        "Allow this image": (Verb.ALLOW, ()),
        "Ban": (Verb.BAN, ()),
        "Undo of a deletion": (Verb.UNDO, (Deed.DELETED,)),
        "Undo of a mute or ban": (Verb.UNDO, (Deed.MUTED,)),
        "Undo of a warning": (Verb.UNDO, (Deed.WARNED,)),
    }
    for name, (verb, deeds) in buttons.items():
        person, bot = rows[name]
        [needed] = press_rights(verb, deeds)
        assert _RIGHT_BY_NAME[person] is needed, name
        assert bot == "—" or _RIGHT_BY_NAME[bot] is needed, name
        assert permit(OWNER, BOT_NONE, (needed,)) == (
            Granted() if bot == "—" else Denied(needed, bot=True)
        ), name


@pytest.mark.parametrize(
    "row", _table("| action | bot may delete |"), ids=lambda row: "-".join(row[:3])
)
def test_each_row_of_the_readme_escalation_table(row: list[str]) -> None:
    action, may_delete, may_restrict, post, at_limit = row
    rights = {Right.DELETE} if may_delete == "yes" else set()
    rights |= {Right.RESTRICT} if may_restrict == "yes" else set()
    settings = _with(action=Action(action))
    planned = plan(Breaks(), MEMBER, settings, Member(Status.ADMIN, frozenset(rights)), History(2))
    assert isinstance(planned, Enforce)
    assert planned.delete is post.startswith("deleted")
    assert planned.warn is post.startswith("warned")
    assert (Shortfall.CANNOT_DELETE in planned.shortfalls) is ("missing right" in post)
    if at_limit == "never counted":
        assert planned.warnings is None
        assert planned.sanction is None
    elif at_limit.startswith("muted or banned"):
        assert planned.sanction == MUTE_1H
    else:
        assert planned.sanction is None
        assert Shortfall.CANNOT_RESTRICT in planned.shortfalls


@pytest.mark.parametrize(
    ("media", "check_files", "judged"),
    [
        (Media.PHOTO, False, True),
        (Media.IMAGE_FILE, False, True),
        (Media.OTHER_FILE, False, False),
        (Media.ANIMATION, False, False),
        (Media.OTHER_FILE, True, True),
        (Media.ANIMATION, True, True),
    ],
)
def test_groups_judge_files_and_animations_only_when_asked(
    media: Media, check_files: bool, judged: bool
) -> None:
    assert judged_in_group(media, _with(check_files=check_files)) is judged
