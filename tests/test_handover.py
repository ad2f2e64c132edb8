"""The outbox worker's hand-over log: what it writes, what a reader trusts."""

from __future__ import annotations

import socket
import stat

import pytest

from outreach.kernel.services.outbox import handover
from outreach.kernel.services.outbox.handover import ACCEPTED, HANDED_OVER, NOT_HANDED_OVER, HandoverLog

OWNER = f"{socket.gethostname()}:12345:abcd1234"


def test_the_log_reads_back_each_emails_last_hand_over(tmp_path) -> None:
    log = HandoverLog(tmp_path, OWNER)
    log.handing_over(1, 3)
    log.accepted(1, "<id@x>", "thread 7")
    log.handing_over(2, 5)
    log.not_handed_over(2)
    log.handing_over(2, 7)  # claimed again later
    log.handing_over(3, 2)
    log.not_handed_over(3)
    log.handing_over(3, 2)  # the failover sender
    assert stat.S_IMODE(log.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.path.parent.stat().st_mode) == 0o700
    marks = handover.read_marks(log.path, OWNER)
    assert marks == {
        1: handover.Mark(3, ACCEPTED, "<id@x>", "thread 7"),
        2: handover.Mark(7, HANDED_OVER),
        3: handover.Mark(2, HANDED_OVER),
    }
    log.not_handed_over(3)
    assert handover.read_marks(log.path, OWNER)[3].state == NOT_HANDED_OVER
    assert handover.read_marks(log.path, "another:1:owner") is None
    log.compact()
    assert handover.read_marks(log.path, OWNER) == {}
    log.handing_over(9, 1)
    assert handover.read_marks(log.path, OWNER) == {9: handover.Mark(1, HANDED_OVER)}
    log.close()
    assert not log.path.exists()


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"B another-boot " + OWNER.encode() + b"\nH 1 2\n",
        b"H 1 2\n",
        b"B {boot} " + OWNER.encode() + b"\nH 1 2\nA 3\n",  # an outcome of nothing handed over
        b"B {boot} " + OWNER.encode() + b"\nH 1\nH 2 2\n",  # a cut line followed by more
        b"B {boot} " + OWNER.encode() + b'\nH 1 2\nA 1 {"x"\n',
    ],
)
def test_a_log_not_written_as_the_worker_writes_it_is_not_trusted(tmp_path, content) -> None:
    path = handover.handover_path(tmp_path, OWNER)
    path.parent.mkdir(parents=True)
    path.write_bytes(content.replace(b"{boot}", handover.boot_id().encode()))
    assert handover.read_marks(path, OWNER) is None


def test_without_a_boot_id_no_log_is_trusted(tmp_path, monkeypatch) -> None:
    log = HandoverLog(tmp_path, OWNER)
    log.handing_over(1, 1)
    monkeypatch.setattr(handover, "boot_id", lambda: None)
    assert handover.read_marks(log.path, OWNER) is None


def test_this_machine_tells_its_boot_apart() -> None:
    # The tests of trusted logs need it; where there is none, every log is untrusted by design.
    assert handover.boot_id()
