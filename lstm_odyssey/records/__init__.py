"""The contract between training, sweeps and the analysis: what a trial's record and a study's
metadata hold, and where they are stored.

    from lstm_odyssey.records import StorageURL, TrialRecord
    storage = StorageURL.parse("results/smoke/journal.log").open(create=False)
    record = TrialRecord.from_user_attrs(trial.user_attrs)

Training (:func:`lstm_odyssey.train.run`) produces a :class:`TrialRecord`, the sweep stores it
(:meth:`TrialRecord.to_user_attrs`), the analysis reads it back. Importable without torch or
Optuna: Optuna is imported when a storage is opened.
"""

from .storage import (
    JOURNAL_FILE,
    StorageError,
    StorageNotFound,
    StorageURL,
    default_location,
    journal_in,
    mask_url,
)
from .study import STUDY_ATTR, StudyMeta
from .trial import EPOCH_KEYS, FAILURES, RESULTS, UNFINISHED, Status, TrialRecord

__all__ = ["EPOCH_KEYS", "FAILURES", "JOURNAL_FILE", "RESULTS", "STUDY_ATTR", "UNFINISHED",
           "Status", "StorageError", "StorageNotFound", "StorageURL", "StudyMeta", "TrialRecord",
           "default_location", "journal_in", "mask_url"]
