"""The feed between the event loop and the sound device: order, silence, fade, underruns."""

from __future__ import annotations

import numpy as np

from drivers.audio_feed import Feed


class _Ticks:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_blocks_come_out_in_order_and_are_padded_with_silence() -> None:
    feed = Feed(_Ticks())
    feed.push(np.arange(1, 6, dtype=np.float32))
    feed.push(np.arange(6, 9, dtype=np.float32))
    assert feed.take(4).tolist() == [1, 2, 3, 4]
    assert feed.take(6).tolist() == [5, 6, 7, 8, 0, 0]
    assert feed.pending == 0
    assert feed.taken_frames == 8


def test_stop_fades_the_next_frames_to_zero_and_drops_the_rest() -> None:
    feed = Feed(_Ticks())
    feed.push(np.ones(1000, dtype=np.float32))
    feed.take(10)
    feed.stop(fade_frames=100)
    assert feed.stopping
    first = feed.take(60)  # the fade spans two device blocks
    second = feed.take(60)
    faded = np.concatenate([first, second])
    assert faded[0] == 1.0
    assert np.all(np.diff(faded[:100]) < 0)  # strictly falling: no step, no click
    assert faded[99] < 0.02
    assert np.all(faded[100:] == 0.0)
    assert not feed.stopping
    assert feed.pending == 0
    assert np.all(feed.take(50) == 0.0)


def test_stop_with_nothing_queued_is_immediate() -> None:
    feed = Feed(_Ticks())
    feed.stop(fade_frames=100)
    assert not feed.stopping


def test_running_dry_mid_play_is_one_underrun_but_the_end_of_a_play_is_not() -> None:
    feed = Feed(_Ticks())
    feed.push(np.ones(30, dtype=np.float32))
    feed.take(20)
    feed.take(20)  # dry while more is promised
    feed.take(20)  # still the same episode
    assert feed.starvations == 1
    feed.push(np.ones(30, dtype=np.float32))
    feed.finish()  # the last block of the broadcast
    feed.take(20)
    feed.take(20)
    assert feed.starvations == 1


def test_sound_start_is_stamped_when_audio_after_silence_is_taken() -> None:
    ticks = _Ticks()
    feed = Feed(ticks)
    ticks.t = 5.0
    feed.take(10)
    assert feed.sound_started_at is None
    feed.push(np.ones(15, dtype=np.float32))
    ticks.t = 7.0
    feed.take(10)
    ticks.t = 8.0
    feed.push(np.ones(5, dtype=np.float32))  # queued behind: not a new start
    feed.take(10)
    assert feed.sound_started_at == 7.0
    feed.finish()
    feed.push(np.ones(5, dtype=np.float32))
    ticks.t = 9.0
    feed.take(10)
    assert feed.sound_started_at == 9.0


def test_stereo_is_refused() -> None:
    feed = Feed(_Ticks())
    try:
        feed.push(np.zeros((10, 2), dtype=np.float32))
    except ValueError as e:
        assert "mono" in str(e)
    else:
        raise AssertionError("stereo frames were accepted")
