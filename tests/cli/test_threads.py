"""The default thread count: torch's on a quiet machine, the idle cores on a busy one, and a note saying so."""

from explorer.cli.threads import default_threads, idle_cores


def test_idle_cores_follow_the_load():
    assert idle_cores(8, 0.2) == 8
    assert idle_cores(8, 3.4) == 5
    assert idle_cores(2, 2.0) == 1 and idle_cores(2, 11.9) == 1  # at least one
    assert idle_cores(4, None) == 4  # no load average (Windows): every core


def test_a_quiet_machine_keeps_torchs_default_silently():
    assert default_threads(2, load=0.3, cores=2) == (2, None)


def test_a_busy_machine_gets_fewer_threads_and_a_note():
    threads, note = default_threads(2, load=2.1, cores=2)
    assert threads == 1 and "busy" in note and "load 2.1 on 2 cores" in note and "--threads" in note
