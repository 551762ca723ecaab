"""Fewer garbage collections while an export runs, and the collector as it was afterwards."""

from __future__ import annotations

import gc
import threading

import pytest

from airflow_provider_braze.gc_pacing import YOUNG_THRESHOLD, fewer_collections


@pytest.fixture(autouse=True)
def default_thresholds():
    saved, enabled = gc.get_threshold(), gc.isenabled()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*saved)
    (gc.enable if enabled else gc.disable)()


def test_the_young_generation_is_larger_inside_and_restored_after():
    with fewer_collections():
        assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 10)
    assert gc.get_threshold() == (700, 10, 10)


def test_restored_after_an_error():
    with pytest.raises(RuntimeError), fewer_collections():
        raise RuntimeError("the export failed")
    assert gc.get_threshold() == (700, 10, 10)


def test_exports_at_once_share_it_and_the_last_one_out_restores():
    inside, release = threading.Barrier(2), threading.Event()
    seen = []

    def export():
        with fewer_collections():
            inside.wait()
            release.wait()
        seen.append(gc.get_threshold()[0])

    other = threading.Thread(target=export)
    other.start()
    with fewer_collections():
        inside.wait()
        release.set()
        other.join()  # the other export has left; this one still runs with the larger generation
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    assert seen == [YOUNG_THRESHOLD] and gc.get_threshold() == (700, 10, 10)


@pytest.mark.parametrize("threshold", [0, 50_000])
def test_a_collector_turned_off_or_already_lazier_is_left_alone(threshold):
    gc.set_threshold(threshold, 10, 10)
    with fewer_collections():
        assert gc.get_threshold() == (threshold, 10, 10)
    assert gc.get_threshold() == (threshold, 10, 10)
