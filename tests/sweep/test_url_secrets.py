"""No storage-URL form prints its password: masked URLs, and the one-line
errors of a storage that cannot be opened (the driver's own message included)."""

import re
from urllib.parse import quote

import optuna
import pytest
from sqlalchemy.engine import make_url

from lstm_odyssey.records import StorageError, StorageURL, mask_url
from lstm_odyssey.records.storage import _secrets

SECRET = "Qzh7Wvk92x"
# (form, the secret it carries, whether the driver can use it); port 1 on localhost refuses at
# once. Refused with a one-line error: an unencoded '@' (the driver would take the start of the
# password and send the rest to the host name), and PASSWORD= (libpq's keywords are lower case).
FORMS = [
    ("postgresql://alice:Qzh7Wvk92x@127.0.0.1:1/db", SECRET, True),
    ("postgresql://alice@127.0.0.1:1/db?password=Qzh7Wvk92x", SECRET, True),
    ("postgresql://127.0.0.1:1/db?user=alice&password=Qzh7Wvk92x&sslmode=disable", SECRET, True),
    ("postgresql://127.0.0.1:1/db?PASSWORD=Qzh7Wvk92x", SECRET, False),
    ("postgresql://alice:Qzh7%40Wvk92x@127.0.0.1:1/db", "Qzh7@Wvk92x", True),        # encoded '@'
    ("postgresql://alice:Qzh7@Wvk92x@127.0.0.1:1/db", "Qzh7@Wvk92x", False),         # unencoded '@'
    ("postgresql://alice:Qzh7:Wvk9%2F2x@127.0.0.1:1/db", "Qzh7:Wvk9/2x", True),      # ':' and '/'
    ("postgresql+psycopg2://alice:Qzh7Wvk92x@127.0.0.1:1/db", SECRET, True),
    ("postgresql://alice:Qzh7?Wvk92x@127.0.0.1:1/db", "Qzh7?Wvk92x", True),          # unencoded '?'
    ("postgresql://alice:Qzh7#Wvk92x@127.0.0.1:1/db", "Qzh7#Wvk92x", True),          # unencoded '#'
    ("postgresql://alice:Qzh7/Wvk92x@127.0.0.1:1/db", "Qzh7/Wvk92x", True),          # unencoded '/'
    ("postgresql://alice:Qzh7?Wvk9#Jpq4/Lmn8:Rst2@127.0.0.1:1/db?sslmode=disable",
     "Qzh7?Wvk9#Jpq4/Lmn8:Rst2", True),
    ("postgresql://alice:Qzh7@Wvk9?Jpq4@127.0.0.1:1/db", "Qzh7@Wvk9?Jpq4", False),  # '@', '?'
    ("postgresql://alice@127.0.0.1:1/db?sslmode=disable&password=Qzh7;Wvk9%26Jpq4",  # ';', '&'
     "Qzh7;Wvk9&Jpq4", True),
]
IDS = [f"form{i}" for i in range(len(FORMS))]


def _pieces(secret: str) -> set[str]:
    """The secret and every part of it between separators a parser might cut at."""
    return {secret, *(p for p in re.split(r"[@:?#/;&]", secret) if len(p) >= 4)}


@pytest.mark.parametrize(("url", "secret", "usable"), FORMS, ids=IDS)
def test_no_url_form_prints_its_password(url, secret, usable):
    shown = mask_url(url)
    for piece in _pieces(secret):
        assert piece not in shown, shown
    assert "***" in shown and "127.0.0.1" in shown
    with pytest.raises(StorageError) as e:
        StorageURL.parse(url).open(create=True)
    message = str(e.value)
    assert "\n" not in message, message
    for piece in _pieces(secret):
        assert piece not in message, message
    if "Qzh7@Wvk9" not in url:  # (an unencoded '@' is refused when parsed)
        for piece in _pieces(secret):
            assert piece not in repr(StorageURL.parse(url))


@pytest.mark.parametrize(("url", "secret", "usable"), FORMS, ids=IDS)
def test_the_password_is_found_where_the_driver_takes_it(url, secret, usable):
    """What SQLAlchemy (which hands it to psycopg2) takes for the password lies inside a
    masked secret, wherever it sits (an unencoded '@' cuts the driver's short); for a usable
    form it is exactly the secret."""
    parsed = make_url(url)
    taken = parsed.password or parsed.query.get("password") or parsed.query.get("PASSWORD")
    assert any(taken in masked for masked in _secrets(url))
    if usable:
        assert taken == secret
        assert parsed.host == "127.0.0.1" and parsed.port == 1  # nothing of it in the host


def test_dsn_keywords_are_masked():
    assert mask_url("host=h password=Hunter2x dbname=x") == "host=h password=*** dbname=x"
    assert mask_url("host=h password='Hunter2x' dbname=x") == "host=h password=*** dbname=x"


def test_urls_without_secrets_are_unchanged():
    for url in ("sqlite:///results/x.db", "/tmp/a@b:c/journal.log",
                "postgresql://alice@db.example:5432/study"):
        assert mask_url(url) == url


# -- every place that prints or writes a storage URL, on a real PostgreSQL ----------------------

def _on(url: str, base: str) -> str:
    """A form of FORMS pointed at the server and database of ``base`` (trust auth accepts
    any password), as user postgres."""
    server_db = base.split("@", 1)[1]                       # 127.0.0.1:5432/name
    return url.replace("alice", "postgres").replace("127.0.0.1:1/db", server_db)


def _cli(argv: list[str], capfd) -> tuple[int, str]:
    """Run ``lstm-odyssey *argv`` through the real entry point in this process: (exit status,
    stdout + stderr)."""
    import signal
    import sys

    from lstm_odyssey.cli import main

    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    saved, sys.argv = sys.argv, ["lstm-odyssey", *argv]
    try:
        main()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    finally:
        sys.argv = saved
        for s, h in handlers.items():
            signal.signal(s, h)
    out, err = capfd.readouterr()
    return code, out + err


@pytest.mark.slow
def test_no_url_form_prints_its_password_anywhere(pg_url, write_study, tmp_path, capfd):
    """Each form, through everything that shows or writes a storage: sweep (progress line and
    completion), worker, status (header and --json), analyze (text and --json), report (HTML,
    Markdown and every other file it writes), synthetic-study (once); a form that cannot be used
    (an unencoded '@', PASSWORD=) through the same commands' errors."""
    study = str(write_study(trials=2, variants='["V"]'))
    code, shown = _cli(["sweep", study, "--storage", _on(FORMS[0][0], pg_url), "--no-progress"],
                       capfd)
    assert code == 0 and "0/2 trials done; storage postgresql://postgres:***@" in shown, shown
    assert SECRET not in shown
    for i, (form, secret, usable) in enumerate(FORMS):
        url = _on(form, pg_url)
        out = tmp_path / f"report{i}"
        runs = [(["sweep", study, "--storage", url, "--no-progress"], True),
                (["worker", study, "--storage", url], True),
                (["status", study, "--storage", url], True),
                (["status", study, "--storage", url, "--json"], True),
                (["analyze", "--storage", url, "--trees", "5"], False),
                (["analyze", "--storage", url, "--trees", "5", "--json"], False),
                (["report", "--storage", url, "-o", str(out), "--trees", "5"], False)]
        for argv, shows_url in runs:
            code, shown = _cli(argv, capfd)
            assert code == (0 if usable else 2), (argv, shown)
            for piece in _pieces(secret):
                assert piece not in shown, (argv, shown)
            if shows_url or not usable:  # (errors name the storage)
                assert "***" in shown, (argv, shown)
        written = [f for f in out.rglob("*") if f.is_file()]
        assert len(written) > 3 or not usable
        for f in written:  # (whole secrets only: embedded figures are base64, any short
            content = f.read_bytes()  # piece turns up in them by chance)
            assert secret.encode() not in content and quote(secret).encode() not in content, f
        if usable:
            assert "***" in (out / "report.md").read_text()
    # synthetic-study refuses a storage that holds a real study: empty the database first
    storage = StorageURL.parse(pg_url).open(create=False)
    for summary in optuna.get_all_study_summaries(storage):
        optuna.delete_study(study_name=summary.study_name, storage=storage)
    code, shown = _cli(["synthetic-study", "--storage", _on(FORMS[1][0], pg_url), "--trials",
                        "2"], capfd)
    assert code == 0 and SECRET not in shown and "password=***" in shown, shown
