"""A minimal ctypes driver for libespeak-ng (shipped by the ``espeakng-loader`` wheel).

The library is initialised in synchronous mode with phoneme events and IPA phone names; the
synth callback collects the 22.05 kHz samples and, for each phoneme event, its absolute start
sample and IPA name. espeak-ng keeps global state: use processes, not threads, to parallelise.
"""

from __future__ import annotations

import _ctypes
import ctypes
from dataclasses import dataclass
from pathlib import Path

import numpy as np

EVENT_PHONEME = 7
INIT_PHONEME_EVENTS, INIT_PHONEME_IPA = 0x1, 0x2
SYNC = 2
UTF8, ENDPAUSE = 0x1, 0x1000
RATE, PITCH, RANGE = 1, 3, 4


class _Id(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p),
                ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint),
                ("text_position", ctypes.c_int), ("length", ctypes.c_int),
                ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", _Id)]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                             ctypes.POINTER(_Event))


@dataclass
class Utterance:
    """Synthesised audio (int16 samples at ``rate`` Hz) and its phone starts."""

    audio: np.ndarray
    rate: int
    starts: np.ndarray        # start sample of each phone event
    phones: list[str]         # IPA names, "" for pauses


class _Engine:
    def __init__(self) -> None:
        import espeakng_loader

        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        data_parent = str(Path(espeakng_loader.get_data_path()).parent).encode()
        self.rate = self.lib.espeak_Initialize(SYNC, 0, data_parent,
                                               INIT_PHONEME_EVENTS | INIT_PHONEME_IPA)
        if self.rate <= 0:
            raise RuntimeError("espeak-ng failed to initialise")
        self.chunks: list[np.ndarray] = []
        self.events: list[tuple[int, str]] = []
        self.callback = _CALLBACK(self._collect)   # keep a reference for the library
        self.lib.espeak_SetSynthCallback(self.callback)

    def _collect(self, wav, n, events) -> int:
        if wav and n > 0:
            self.chunks.append(np.ctypeslib.as_array(wav, (n,)).copy())
        i = 0
        while events[i].type != 0:
            e = events[i]
            if e.type == EVENT_PHONEME:
                self.events.append((e.sample, e.id.string.decode("utf-8", "replace")))
            i += 1
        return 0

    def synth(self, text: str, voice: str, rate: int, pitch: int, pitch_range: int) -> Utterance:
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ValueError(f"espeak-ng has no voice {voice!r}")
        for param, value in ((RATE, rate), (PITCH, pitch), (RANGE, pitch_range)):
            self.lib.espeak_SetParameter(param, int(value), 0)
        self.chunks, self.events = [], []
        b = text.encode()
        err = self.lib.espeak_Synth(b, len(b) + 1, 0, 1, 0, UTF8 | ENDPAUSE, None, None)
        if err != 0:
            raise RuntimeError(f"espeak_Synth failed ({err}) on {text!r}")
        audio = np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.int16)
        return Utterance(audio, self.rate, np.array([s for s, _ in self.events], np.int64),
                         [p for _, p in self.events])


def synthesize(text: str, voice: str = "en-us", rate: int = 175, pitch: int = 50,
               pitch_range: int = 50) -> Utterance:
    """Speak ``text`` with an espeak-ng voice (e.g. ``"en-us+m3"``), rate in words per
    minute, pitch and pitch range in 0–100.

    espeak-ng keeps synthesis state (noise generators, pitch flutter) in static variables
    that ``espeak_Terminate`` does not reset, so the same call would give different samples
    depending on what was spoken before. Each call therefore loads a fresh copy of the
    library and unloads it afterwards (~15 ms). Then the output depends on the arguments
    only, except for voices with breath noise (see :func:`voice_variants`)."""
    engine = _Engine()
    try:
        return engine.synth(text, voice, rate, pitch, pitch_range)
    finally:
        engine.lib.espeak_Terminate()
        _ctypes.dlclose(engine.lib._handle)


def _variant_lines(reproducible: bool) -> dict[str, list[list[str]]]:
    """The words of each line of every voice variant file shipped with the library, by name;
    with ``reproducible``, variants with breath noise (a ``breath`` line: whispering and
    breathy voices) are left out: their samples change from run to run."""
    import espeakng_loader

    folder = Path(espeakng_loader.get_data_path()) / "voices" / "!v"
    out = {}
    for p in sorted(folder.iterdir()):
        if p.is_file():
            lines = [line.split() for line in p.read_text(errors="replace").splitlines()]
            if not (reproducible and any(w[:1] == ["breath"] for w in lines)):
                out[p.name] = lines
    return out


def voice_variants(reproducible: bool = True) -> list[str]:
    """Names of the voice variants shipped with the library (``+name`` suffixes), sorted."""
    return list(_variant_lines(reproducible))


def voice_families(reproducible: bool = True) -> dict[str, list[str]]:
    """The voice variants by family, as their files define them: ``klatt`` (a Klatt
    synthesiser), ``female`` (``gender female``) and ``male`` (every other variant: male or
    unspecified, the default formant synthesiser)."""
    families: dict[str, list[str]] = {"klatt": [], "female": [], "male": []}
    for name, lines in _variant_lines(reproducible).items():
        if any(w[:1] == ["klatt"] for w in lines):
            families["klatt"].append(name)
        elif any(w[:2] == ["gender", "female"] for w in lines):
            families["female"].append(name)
        else:
            families["male"].append(name)
    return families
