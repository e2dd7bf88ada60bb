"""The executor: order, bounded parallelism, failure containment, state after every step, resume."""

import signal
import threading
import time
from datetime import UTC, datetime

import pytest

from infra.errors import ConfigError, ProviderError, StateLockedError, Terminated
from infra.providers.base import Providers
from infra.reconciler.executor import Executor
from infra.reconciler.graph import Graph, topological
from infra.reconciler.planner import plan
from infra.reconciler.refs import ref
from infra.reconciler.resources import Observed, Resource
from infra.state.backend import locked
from infra.state.journal import JournaledBackend
from infra.state.local import LocalBackend


class World:
    """An in-memory outside system: what exists, and a record of every call."""

    kinds = frozenset({"thing"})

    def __init__(self, fail=(), delay=0.0):
        self.things: dict[str, dict] = {}
        self.fail, self.delay = set(fail), delay
        self.calls: list[str] = []
        self.running = 0
        self.most_at_once = 0
        self.lock = threading.Lock()
        self.finished = 0
        self.calls_at_finish: list[str] | None = None

    def finish(self, applied, report):
        self.finished += 1
        self.calls_at_finish = list(self.calls)
        self.applied_at_finish = sorted(a.address for a in applied)

    def observe(self, resources):
        """Everything it holds, asked about or not, as a provider that finds orphans does."""
        return {address: Observed(attributes=attributes, outputs={"id": address})
                for address, attributes in self.things.items()}

    def apply(self, action, attributes, progress):
        with self.lock:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            self.calls.append(action.address)
        try:
            time.sleep(self.delay)
            if action.address in self.fail:
                raise ProviderError(f"{action.address} refused")
            if action.after is None:
                self.things.pop(action.address, None)
            else:
                self.things[action.address] = attributes
            return {"id": action.address}
        finally:
            with self.lock:
                self.running -= 1


class RecordingBackend(LocalBackend):
    def __init__(self, path):
        super().__init__(path)
        self.writes: list[set[str]] = []

    def write(self, state):
        super().write(state)
        self.writes.append(set(state.resources))


def thing(name, *deps, **attributes):
    return Resource(kind="thing", group=name, depends_on=tuple(f"thing.{d}" for d in deps),
                    attributes={"value": 1, **attributes})


def run(resources, world, backend, parallelism=10):
    desired = Graph(topological(resources))
    state = backend.read()
    the_plan = plan(desired, world.observe(list(desired)), state)
    return Executor(Providers([world]), backend, state, parallelism=parallelism).run(the_plan)


def test_applies_in_dependency_order_and_records_state_after_each_step(tmp_path):
    world, backend = World(), RecordingBackend(tmp_path / "state.json")
    result = run([thing("a"), thing("b", "a"), thing("c", "b")], world, backend)
    assert result.ok and world.calls == ["thing.a", "thing.b", "thing.c"]
    assert backend.writes == [{"thing.a"}, {"thing.a", "thing.b"}, {"thing.a", "thing.b", "thing.c"}]
    assert backend.read().serial == 3


def test_with_a_journal_steps_are_appended_and_the_state_written_whole_at_the_end(tmp_path):
    world, inner = World(), RecordingBackend(tmp_path / "state.json")
    backend = JournaledBackend(inner, tmp_path / "state.json.journal")
    result = run([thing("a"), thing("b", "a"), thing("c", "b")], world, backend)
    assert result.ok and world.calls == ["thing.a", "thing.b", "thing.c"]
    # The first step is written whole (no state was ever written to continue), the rest appended,
    # and all of it written whole when the apply ends.
    assert inner.writes == [{"thing.a"}, {"thing.a", "thing.b", "thing.c"}]
    assert not backend.path.exists() and LocalBackend(tmp_path / "state.json").read().serial == 3


def test_a_failed_apply_writes_what_it_recorded_whole_too(tmp_path):
    world, inner = World(fail={"thing.c"}), RecordingBackend(tmp_path / "state.json")
    backend = JournaledBackend(inner, tmp_path / "state.json.journal")
    result = run([thing("a"), thing("b", "a"), thing("c", "b")], world, backend)
    assert set(result.failed) == {"thing.c"}
    assert inner.writes[-1] == {"thing.a", "thing.b"} and not backend.path.exists()


def test_providers_finish_once_after_the_whole_plan_failures_included(tmp_path):
    world, backend = World(fail={"thing.b"}), RecordingBackend(tmp_path / "state.json")
    run([thing("a"), thing("b", "a"), thing("c")], world, backend)
    assert world.finished == 1 and sorted(world.calls_at_finish) == ["thing.a", "thing.b", "thing.c"]
    assert world.applied_at_finish == ["thing.a", "thing.c"]  # what was done, not what failed


def test_references_resolve_to_outputs_recorded_by_earlier_steps(tmp_path):
    world, backend = World(), RecordingBackend(tmp_path / "state.json")
    run([thing("a"), thing("b", "a", parent=ref("thing.a", "id"))], world, backend)
    assert world.things["thing.b"]["parent"] == "thing.a"


def test_a_failure_stops_its_dependants_and_nothing_else(tmp_path):
    world, backend = World(fail={"thing.b"}), RecordingBackend(tmp_path / "state.json")
    result = run([thing("a"), thing("b", "a"), thing("c", "b"), thing("d")], world, backend)
    assert set(result.failed) == {"thing.b"} and "refused" in result.failed["thing.b"]
    assert set(result.skipped) == {"thing.c"}
    assert set(backend.read().resources) == {"thing.a", "thing.d"}


def test_a_rerun_resumes_where_the_failed_one_stopped(tmp_path):
    world, backend = World(fail={"thing.b"}), RecordingBackend(tmp_path / "state.json")
    run([thing("a"), thing("b", "a"), thing("c", "b")], world, backend)
    world.fail.clear()
    world.calls.clear()
    result = run([thing("a"), thing("b", "a"), thing("c", "b")], world, backend)
    assert result.ok and world.calls == ["thing.b", "thing.c"]


def test_parallelism_bounds_how_many_run_at_once(tmp_path):
    world, backend = World(delay=0.05), RecordingBackend(tmp_path / "state.json")
    run([thing(f"n{i}") for i in range(8)], world, backend, parallelism=3)
    assert world.most_at_once == 3
    world2 = World(delay=0.05)
    run([thing(f"n{i}") for i in range(8)], world2, RecordingBackend(tmp_path / "s2.json"), parallelism=1)
    assert world2.most_at_once == 1


def test_deletions_remove_from_state(tmp_path):
    world, backend = World(), RecordingBackend(tmp_path / "state.json")
    run([thing("a"), thing("b")], world, backend)
    result = run([thing("a")], world, backend)
    assert result.ok and set(world.things) == {"thing.a"} and set(backend.read().resources) == {"thing.a"}


def test_adopts_what_already_exists_without_calling_the_provider(tmp_path):
    world, backend = World(), RecordingBackend(tmp_path / "state.json")
    world.things["thing.a"] = {"value": 1}
    result = run([thing("a")], world, backend)
    assert result.ok and world.calls == []
    assert backend.read().resources["thing.a"].outputs == {"id": "thing.a"}


def test_a_second_apply_is_refused_naming_the_holder(tmp_path):
    backend = LocalBackend(tmp_path / "state.json")
    with locked(backend, "apply"):
        with pytest.raises(StateLockedError) as caught:
            with locked(LocalBackend(tmp_path / "state.json"), "apply"):
                pass
    message = str(caught.value)
    assert "is locked by" in message and "pid" in message and "for apply" in message and "infra state unlock" in message
    with locked(backend, "apply"):  # released after use
        pass


def test_a_dependency_cycle_is_a_config_error():
    with pytest.raises(ConfigError, match="cycle: thing.a -> thing.b -> thing.a"):
        topological([thing("a", "b"), thing("b", "a")])


class BrokenOutput:
    """A listener whose output has gone away (say, `infra apply | head` after head exited)."""

    def __getattr__(self, name):
        def call(*args):
            raise BrokenPipeError("stdout closed")

        return call


def test_a_broken_progress_output_does_not_stop_or_lose_an_apply(tmp_path):
    world, backend = World(), RecordingBackend(tmp_path / "state.json")
    desired = Graph(topological([thing("a"), thing("b", "a")]))
    state = backend.read()
    result = Executor(Providers([world]), backend, state, listener=BrokenOutput()).run(
        plan(desired, {}, state))
    assert result.ok and set(backend.read().resources) == {"thing.a", "thing.b"}


def test_one_at_a_time_runs_in_the_order_the_plan_shows(tmp_path):
    world, backend = World(), RecordingBackend(tmp_path / "state.json")
    run([thing("a"), thing("b", "a"), thing("c", "b"), thing("d")], world, backend, parallelism=1)
    assert world.calls == ["thing.a", "thing.b", "thing.c", "thing.d"]


def test_a_thousand_independent_actions_all_run(tmp_path):
    world, backend = World(), RecordingBackend(tmp_path / "state.json")
    result = run([thing(f"n{i}") for i in range(1000)], world, backend, parallelism=50)
    assert result.ok and len(world.things) == 1000 and len(backend.read().resources) == 1000


class LongRunning(World):
    """A provider whose actions run until interrupted, as packer builds do."""

    def __init__(self):
        super().__init__()
        self.stop = threading.Event()
        self.started = threading.Event()
        self.interrupted = False

    def apply(self, action, attributes, progress):
        self.calls.append(action.address)
        self.started.set()
        if not self.stop.wait(timeout=30):
            raise AssertionError("never interrupted")
        raise ProviderError(f"{action.address}: build was cancelled")

    def interrupt(self):
        self.interrupted = True
        self.stop.set()


@pytest.mark.parametrize("signum, interrupt", [(signal.SIGTERM, Terminated), (signal.SIGINT, KeyboardInterrupt)])
def test_an_interrupt_waits_for_running_actions_and_is_passed_on(tmp_path, signum, interrupt):
    """SIGTERM reaches only infra, Ctrl-C maybe only infra too (`kill -INT`): either way infra passes
    it on to what runs outside it, and waits for the running action before the interrupt ends the apply."""
    world, backend = LongRunning(), RecordingBackend(tmp_path / "state.json")
    main = threading.get_ident()

    def interrupt_main_thread():
        world.started.wait(timeout=30)
        signal.pthread_kill(main, signum)

    def handler(*_):
        raise interrupt()

    previous = signal.signal(signum, handler)
    threading.Thread(target=interrupt_main_thread, daemon=True).start()
    try:
        with pytest.raises(interrupt):
            run([thing("a"), thing("b", "a")], world, backend)
    finally:
        signal.signal(signum, previous)
    assert world.stop.is_set()  # returned only once the running action had ended
    assert world.interrupted
    assert world.finished == 0  # an interrupted apply leaves the after-work undone
    assert world.calls == ["thing.a"]  # nothing new started after the interrupt
    assert backend.read().resources == {}  # the interrupted action failed: nothing recorded for it


def test_a_signal_held_while_an_action_starts_is_delivered_after_even_when_another_thread_takes_it():
    """Any thread of the process (a timer, a pool's worker) may take the signal from the kernel and
    Python then runs the handler in the main thread wherever it is: holding it by the main thread's
    mask alone let SIGTERM fall between starting an action and recording that it runs."""
    import os
    import time

    from infra.reconciler.executor import signals_held

    other = threading.Thread(target=time.sleep, args=(1,), daemon=True)
    other.start()

    def terminate(signum, frame):
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, terminate)
    reached = []
    try:
        with pytest.raises(Terminated):
            with signals_held():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.2)  # time enough for the signal to arrive here
                reached.append("the end of the held part")
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert reached == ["the end of the held part"]


class Unlocking(World):
    """Its first action's apply removes the state lock, as `infra state unlock` from elsewhere would."""

    def __init__(self, backend, holder):
        super().__init__()
        self.backend, self.holder = backend, holder

    def apply(self, action, attributes, progress):
        if not self.calls:
            self.backend.force_unlock(self.holder.id, lambda holder: None)
        return super().apply(action, attributes, progress)


def test_an_apply_whose_lock_was_removed_stops_before_its_next_step_without_writing_state(tmp_path):
    from infra.state.lock import LockLostError

    backend = RecordingBackend(tmp_path / "state.json")
    desired = Graph(topological([thing("a"), thing("b", "a")]))
    with locked(backend, "apply") as holder:
        elsewhere = holder.model_copy(update={"who": "ops@another-host"})  # so that unlock may remove it
        backend.lock_path.write_text(elsewhere.model_dump_json())
        world = Unlocking(backend, elsewhere)
        state = backend.read()
        with pytest.raises(LockLostError, match=f"lock of state .* \\(lock id {holder.id}\\) was removed while"):
            Executor(Providers([world]), backend, state, lock=holder).run(plan(desired, {}, state))
    assert world.calls == ["thing.a"] and backend.writes == []


class UnlockedAfterWriting(RecordingBackend):
    """Its lock is removed right after the state write of `after` (as `infra state unlock` from elsewhere
    would, after the apply's last look at its lock)."""

    def __init__(self, path, after):
        super().__init__(path)
        self.after, self.holder = after, None

    def write(self, state):
        super().write(state)
        if self.after in state.resources and self.holder is not None:
            self.force_unlock(self.holder.id, lambda holder: None)
            self.holder = None


def test_an_apply_whose_lock_is_removed_after_its_last_step_says_so(tmp_path):
    from infra.state.lock import LockLostError

    backend = UnlockedAfterWriting(tmp_path / "state.json", after="thing.b")
    desired = Graph(topological([thing("a"), thing("b", "a")]))
    with pytest.raises(LockLostError, match="after its last step: every step is recorded"):  # was silent
        with locked(backend, "apply") as holder:
            backend.holder = holder.model_copy(update={"who": "ops@another-host"})  # so that unlock may remove it
            backend.lock_path.write_text(backend.holder.model_dump_json())
            state = backend.read()
            world = World()
            Executor(Providers([world]), backend, state, lock=holder).run(plan(desired, {}, state))
    assert world.calls == ["thing.a", "thing.b"] and backend.writes[-1] == {"thing.a", "thing.b"}


class PausingWorld(World):
    """thing.b's roll stops at a manual pause, as a roll with {"pause": "manual"} does."""

    def apply(self, action, attributes, progress):
        if action.address == "thing.b":
            from infra.errors import RollPaused
            raise RollPaused("paused at step 2/3", {"id": "thing.b", "roll": {"state": "paused", "step": 1}})
        return super().apply(action, attributes, progress)


def test_a_paused_roll_is_recorded_with_where_it_stands_and_its_dependants_wait(tmp_path):
    world, backend = PausingWorld(), RecordingBackend(tmp_path / "state.json")
    result = run([thing("a"), thing("b", "a"), thing("c", "b"), thing("d")], world, backend)
    assert result.paused == {"thing.b": "paused at step 2/3"} and not result.failed
    assert result.skipped == {"thing.c": "waits for the roll of thing.b, paused"}
    assert backend.read().resources["thing.b"].outputs["roll"] == {"state": "paused", "step": 1}
    assert sorted(result.applied) == ["thing.a", "thing.d"]


def test_what_an_apply_makes_is_recorded_with_when_and_keeps_it_while_it_stands(tmp_path):
    """`made_at`: a plan that does not find it yet waits for AWS only when it was made recently."""
    world, backend = World(), RecordingBackend(tmp_path / "state.json")
    before = datetime.now(UTC).replace(microsecond=0)
    run([thing("a")], world, backend)
    made = backend.read().resources["thing.a"].made_at
    assert made is not None and before <= datetime.fromisoformat(made) <= datetime.now(UTC)
    run([thing("a", value=2), thing("b")], world, backend)  # a updated in place, b made
    state = backend.read()
    assert state.resources["thing.a"].made_at == made and state.resources["thing.b"].made_at is not None
    state.resources.pop("thing.b")
    state.resources["thing.a"] = state.resources["thing.a"].model_copy(update={"made_at": None})
    assert '"made_at"' not in state.to_json()  # not recorded: not written
