"""No storage-URL form prints its password (issue 17 item 1): masked URLs, and the one-line
errors of a storage that cannot be opened (the driver's own message included)."""

import pytest

from lstm_odyssey.sweep.storage import StorageError, mask_url, open_storage

SECRET = "Hunter2x"
# (form, the secret it carries); port 1 on localhost refuses at once.
FORMS = [
    ("postgresql://alice:Hunter2x@127.0.0.1:1/db", SECRET),
    ("postgresql://alice@127.0.0.1:1/db?password=Hunter2x", SECRET),
    ("postgresql://127.0.0.1:1/db?user=alice&password=Hunter2x&sslmode=disable", SECRET),
    ("postgresql://127.0.0.1:1/db?PASSWORD=Hunter2x", SECRET),
    ("postgresql://alice:Hun%40ter2x@127.0.0.1:1/db", "Hun@ter2x"),        # encoded '@'
    ("postgresql://alice:Hun@ter2x@127.0.0.1:1/db", "Hun@ter2x"),          # unencoded '@'
    ("postgresql://alice:Hun:ter%2F2x@127.0.0.1:1/db", "Hun:ter/2x"),      # ':' and '/'
    ("postgresql+psycopg2://alice:Hunter2x@127.0.0.1:1/db", SECRET),
]


@pytest.mark.parametrize(("url", "secret"), FORMS, ids=[f"form{i}" for i in range(len(FORMS))])
def test_no_url_form_prints_its_password(url, secret):
    shown = mask_url(url)
    for piece in {secret, secret.split("@")[-1], secret.split(":")[-1]}:
        assert piece not in shown, shown
    assert "***" in shown and "127.0.0.1" in shown
    with pytest.raises(StorageError) as e:
        open_storage(url)
    message = str(e.value)
    assert secret not in message and "\n" not in message, message
    assert secret.split("@")[-1] not in message


def test_dsn_keywords_are_masked():
    assert mask_url("host=h password=Hunter2x dbname=x") == "host=h password=*** dbname=x"
    assert mask_url("host=h password='Hunter2x' dbname=x") == "host=h password=*** dbname=x"


def test_urls_without_secrets_are_unchanged():
    for url in ("sqlite:///results/x.db", "/tmp/a@b:c/journal.log",
                "postgresql://alice@db.example:5432/study"):
        assert mask_url(url) == url
