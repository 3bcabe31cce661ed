"""The worked example of a real corpus (examples/folk_tunes.py): Ryan's Mammoth Collection from
the music21 wheel as a next-note task in the dataset format, read back like any dataset."""

from __future__ import annotations

import numpy as np
from music21 import converter

from examples import folk_tunes
from lstm_odyssey.tasks import load_task


def test_the_collection_becomes_a_next_note_task(tmp_path, data_dir):
    folder = folk_tunes.convert(tmp_path / "folk", tunes=20)
    task = load_task("folk", size="full", path=folder)
    assert (len(task.train), len(task.valid), len(task.test)) == (16, 2, 2)
    assert str(task.loss) == "framewise_ce" and task.bidirectional is False
    assert task.input_size == folk_tunes.PITCHES + 1 + len(folk_tunes.DURATIONS)
    assert task.num_classes == folk_tunes.PITCHES + 1
    for x, y in zip(task.train.inputs, task.train.targets):
        x = np.asarray(x)
        pitch = x[:, :task.num_classes]
        assert (pitch.sum(1) == 1).all() and (x[:, task.num_classes:].sum(1) == 1).all()
        # the target of step t is the pitch the input of step t + 1 holds
        assert (pitch.argmax(1)[1:] == np.asarray(y)[:-1]).all()


def test_events_are_the_sounding_notes_transposed_to_c():
    tune = folk_tunes.CORPUS / "AcaciaReel.abc"  # K:G: up a fourth to C
    score = converter.parse(tune, format="abc")
    assert folk_tunes.tonic_shift(score) == 5
    sounding = [n for n in score.flatten().notesAndRests if n.quarterLength > 0]
    ev = folk_tunes.events(tune)
    assert len(ev) == len(sounding)
    first = sounding[0]
    assert ev[0][0] == folk_tunes.fold(first.pitch.midi + 5) - folk_tunes.LOW
    assert folk_tunes.DURATIONS[ev[0][1]] == float(first.quarterLength)
    assert folk_tunes.fold(40) == 64 and folk_tunes.fold(100) == 88
