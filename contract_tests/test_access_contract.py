"""The security matrix: every role and scope against every operator action, through the
operations on a real journal (SQLite, and PostgreSQL when it runs here).

The expectations are written out below, not read from the policy: a change to the policy
that this table does not share fails here. Every refusal must be in the audit log, and the
audit log must hold nothing personal from the messages it speaks about.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from hub.access import AccessDeniedError, Principal, Role
from hub.bootstrap import Hub, bootstrap
from hub.config import Settings
from hub.journal.migrate import upgrade
from hub.journal.records import AuditEntry, FailedMessage, Failure, InboundMessage, Outcome
from hub.services.operations import NothingToReplayError
from tests.support.notices import LATE, notice

pytestmark = pytest.mark.contract

SCHOOL, OTHER_SCHOOL = "45201/4520100012", "45201/4520100099"
SCOPES = {"region": "*", "municipality": "45201", "school": SCHOOL, "other school": OTHER_SCHOOL}
REACHES_THE_SCHOOL = {"region", "municipality", "school"}
SNILS, SURNAME = "112-233-445 95", "Семёнова"
ACTIONS = ("list", "show", "reveal", "audit", "tokens", "replay", "discard")
ROLE_MAY = {
    Role.OPERATOR: {"list", "show", "reveal", "replay", "discard"},
    Role.AUDITOR: {"list", "show", "audit"},
    Role.ADMIN: set(ACTIONS),
    Role.AGENCY: set(),
    Role.MONITOR: set(),
}
ACTION_NAMES = {"list": "view", "show": "view", "audit": "audit", "tokens": "manage-tokens"}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def hub(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Hub]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'hub.db'}"
    else:
        url = request.getfixturevalue("pg_url")
        upgrade(url)
    hub = bootstrap(Settings(database_url=url, broker_url="memory://", require_signatures=False))
    yield hub
    hub.close()


def failed_message(hub: Hub, scope: str) -> FailedMessage:
    """A stored message about a child (name, SNILS) that failed, in ``scope``."""
    body = notice("child", 1, tag=LATE).replace(
        b"<t:Subject>", f"<t:Subject>{SURNAME} {SNILS} ".encode()
    )
    message = InboundMessage("smev", str(uuid.uuid4()), body, "zags", content_type="text/xml")
    hub.journal.receive([message])
    hub.journal.start_attempts([message.inbox_id])
    failure = Failure("UnknownKindError", f"no adapter for {LATE}", "Traceback …", "fp-late")
    hub.journal.complete([Outcome(message.inbox_id, failure=failure, scope=scope)])
    [failed] = [f for f in hub.journal.failed() if f.inbox_id == message.inbox_id]
    return failed


def principal(hub: Hub, role: Role, scope: str) -> Principal:
    name = f"{role.value} of {scope.replace('*', 'the region')}"
    agencies = ("zags",) if role is Role.AGENCY else ()  # an agency system names its agency
    issued = hub.access.issue(name, role, scope, None, "root", agencies=agencies)
    return hub.access.authenticate(issued.text)


def attempts(hub: Hub, who: Principal, target: FailedMessage) -> dict[str, Callable[[], bool]]:
    """Each action tried on ``target``: True when done (and it was within reach)."""
    ops, failed_id = hub.operations, target.failed_id
    return {
        "list": lambda: failed_id in {f.failed_id for f in ops.failed(who)},
        "show": lambda: SNILS not in ops.show(who, failed_id).body,
        "reveal": lambda: SNILS in ops.reveal(who, failed_id, "ticket 7").body,
        "audit": lambda: any(e.target == "seed" for e in ops.audit_log(who, 1000)),
        "tokens": lambda: bool(hub.access.issue("new", Role.OPERATOR, SCHOOL, None, who)),
        "replay": lambda: [r.status for r in ops.replay(who, [target])] == ["failed"],
        "discard": lambda: _discarded(hub, who, failed_id),
    }


def _discarded(hub: Hub, who: Principal, failed_id: str) -> bool:
    hub.operations.discard(who, failed_id, "sent twice")
    return failed_id not in {f.failed_id for f in hub.journal.failed()}


def text_of(entry: AuditEntry) -> str:
    return " ".join((entry.actor, entry.target, entry.reason, json.dumps(entry.details)))


def test_every_role_and_scope_against_every_action(hub: Hub) -> None:
    hub.journal.audit("setup", "note", "seed", "an entry of the school", {}, scope=SCHOOL)
    wrong, refused_by = [], {}
    for role in Role:
        for where, scope in SCOPES.items():
            who, target = principal(hub, role, scope), failed_message(hub, SCHOOL)
            refused = []
            for action, attempt in attempts(hub, who, target).items():
                expected = action in ROLE_MAY[role] and where in REACHES_THE_SCHOOL
                try:
                    done = attempt()
                except AccessDeniedError:
                    done = False
                    refused.append(action)
                if done != expected:
                    wrong.append(f"{role.value}@{where} {action}: expected {expected}, got {done}")
            refused_by[who.label()] = refused
    assert not wrong, "\n".join(wrong)
    denials = [e for e in hub.journal.audit_log(10_000) if e.action == "denied"]
    for label, refused in refused_by.items():
        logged = sorted(e.details["action"] for e in denials if e.actor == label)
        assert logged == sorted(ACTION_NAMES.get(a, a) for a in refused), label
    for entry in hub.journal.audit_log(10_000):
        assert SNILS not in text_of(entry) and SURNAME not in text_of(entry), entry
    region, school = (principal(hub, Role.AUDITOR, s) for s in ("*", SCHOOL))
    assert "" in {e.scope for e in hub.operations.audit_log(region, 10_000)}
    seen = {e.scope for e in hub.operations.audit_log(school, 10_000)}
    assert SCHOOL in seen and seen <= {SCHOOL}, seen


def test_another_schools_message_is_refused_as_if_it_did_not_exist(hub: Hub) -> None:
    operator = principal(hub, Role.OPERATOR, SCHOOL)
    elsewhere = failed_message(hub, OTHER_SCHOOL)
    refusals = []
    for failed_id in (elsewhere.failed_id, str(uuid.uuid4())):
        with pytest.raises(AccessDeniedError) as raised:
            hub.operations.show(operator, failed_id)
        refusals.append(str(raised.value).replace(failed_id, "ID"))
    assert refusals[0] == refusals[1]
    region = principal(hub, Role.OPERATOR, "*")
    with pytest.raises(NothingToReplayError):  # the region may learn that it does not exist
        hub.operations.show(region, str(uuid.uuid4()))


def test_replaying_a_group_or_everything_takes_only_what_is_within_reach(hub: Hub) -> None:
    mine = failed_message(hub, SCHOOL)
    failed_message(hub, OTHER_SCHOOL)
    failed_message(hub, "")  # scope unknown: the region's alone
    school = principal(hub, Role.OPERATOR, SCHOOL)
    assert [f.failed_id for f in hub.operations.select(school, [], "fp-late", False)] == [
        mine.failed_id
    ]
    assert len(hub.operations.select(principal(hub, Role.OPERATOR, "45201"), [], None, True)) == 2
    assert len(hub.operations.select(principal(hub, Role.OPERATOR, "*"), [], None, True)) == 3
    with pytest.raises(NothingToReplayError):
        hub.operations.select(principal(hub, Role.OPERATOR, "45202"), [], None, True)
    everything = hub.journal.failed()
    with pytest.raises(AccessDeniedError):  # one out of reach: none is replayed
        hub.operations.replay(school, everything)
    assert {f.failed_id for f in hub.journal.failed()} == {f.failed_id for f in everything}
    groups = hub.operations.groups(school)
    assert [(g.fingerprint, g.count) for g in groups] == [("fp-late", 1)]
