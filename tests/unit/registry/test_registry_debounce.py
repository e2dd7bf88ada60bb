from infra.registry.debounce import Debouncer


def test_a_burst_is_acted_on_once_it_has_been_quiet():
    burst = Debouncer(quiet=2.0)
    assert burst.due() is None and not burst.ready(100.0)
    for t in (0.0, 0.5, 1.0):
        burst.poke(t)
    assert burst.due() == 3.0
    assert not burst.ready(2.9) and burst.ready(3.0)
    burst.clear()
    assert not burst.pending


def test_a_registry_that_never_goes_quiet_still_gets_a_run():
    burst = Debouncer(quiet=1.0, max_wait=5.0)
    for t in range(0, 10):
        burst.poke(t * 0.5)
    assert burst.due() == 5.0


def test_zero_debounce_acts_at_once():
    burst = Debouncer(quiet=0.0)
    burst.poke(7.0)
    assert burst.ready(7.0)
