"""Data keys and sealing: the keyring's errors name the entry, never the key; sealed values
open only under their key and where they were sealed."""

from __future__ import annotations

import base64
import secrets

import pytest
from pydantic import SecretStr

from hub.config import Settings
from hub.errors import ConfigurationError
from hub.protection import (
    AesGcmSealer,
    KeyringError,
    PlainSealer,
    SealingError,
    new_key_entry,
    parse_keyring,
    sealer_from_settings,
)

pytestmark = pytest.mark.unit

KEY = base64.b64encode(secrets.token_bytes(32)).decode()
OTHER = base64.b64encode(secrets.token_bytes(32)).decode()
SHORT = base64.b64encode(secrets.token_bytes(16)).decode()


@pytest.mark.parametrize(
    ("text", "active", "says"),
    [
        (f"k1{KEY}", None, r"encryption key 1: expected 'ID:BASE64'"),
        (f"k1:{KEY},k2:{SHORT}", None, r"encryption key 2 \(k2\): the key is 16 bytes"),
        (f"k1:{KEY[:-4]}!!!!", None, r"encryption key 1 \(k1\): the key is not valid base64"),
        (f"k1:{KEY},k1:{OTHER}", None, r"encryption key 2: id 'k1' is listed twice"),
        (f"plain:{KEY}", None, r"encryption key 1: id 'plain' must be"),
        (f"bad id:{KEY}", None, r"encryption key 1: id 'bad id' must be"),
        (f"k1:{KEY}", "k9", r"HUB_ENCRYPTION_KEY_ID 'k9' is not among the configured keys \(k1\)"),
        ("", "k1", r"HUB_ENCRYPTION_KEY_ID is set but HUB_ENCRYPTION_KEYS is empty"),
        (f"k1:{KEY},,", None, r"encryption key 2: expected 'ID:BASE64'"),
    ],
)
def test_keyring_errors_name_the_entry_never_the_key(
    text: str, active: str | None, says: str
) -> None:
    with pytest.raises(KeyringError, match=says) as caught:
        parse_keyring(text, active)
    assert isinstance(caught.value, ConfigurationError)
    for material in (KEY, OTHER, SHORT, KEY[:-4]):
        assert material not in str(caught.value) and material not in repr(caught.value.details)


def test_the_active_key_is_the_last_listed_unless_named() -> None:
    keyring = parse_keyring(f" k1:{KEY} , k2:{OTHER} ")
    assert keyring is not None and keyring.active == "k2" and set(keyring.keys) == {"k1", "k2"}
    assert (parse_keyring(f"k1:{KEY},k2:{OTHER}", "k1") or pytest.fail()).active == "k1"
    assert parse_keyring(None) is None and parse_keyring(" ") is None
    assert KEY not in repr(keyring)


def test_a_new_key_entry_is_a_valid_keyring() -> None:
    entry = new_key_entry()
    keyring = parse_keyring(entry)
    assert keyring is not None and len(next(iter(keyring.keys.values()))) == 32
    assert new_key_entry("mine").startswith("mine:") and new_key_entry() != entry
    with pytest.raises(KeyringError):
        new_key_entry("no spaces")


def test_sealed_values_open_only_with_their_key_and_context() -> None:
    old = AesGcmSealer(parse_keyring(f"k1:{KEY}") or pytest.fail())
    both = AesGcmSealer(parse_keyring(f"k1:{KEY},k2:{OTHER}") or pytest.fail())
    blob = old.seal(b"SNILS 112-233-445 95", b"inbox.raw:1")
    assert b"112-233" not in blob and old.key_id_of(blob) == "k1"
    assert both.open(blob, b"inbox.raw:1") == b"SNILS 112-233-445 95"
    assert both.key_id_of(both.seal(b"x", b"c")) == "k2"
    assert old.seal(b"x", b"c") != old.seal(b"x", b"c")  # a fresh nonce each time
    with pytest.raises(SealingError, match="does not open"):
        old.open(blob, b"inbox.raw:2")
    with pytest.raises(SealingError, match="not configured"):
        old.open(both.seal(b"x", b"c"), b"c")
    wrong = AesGcmSealer(parse_keyring(f"k1:{OTHER}") or pytest.fail())
    with pytest.raises(SealingError, match="wrong key material"):
        wrong.open(blob, b"inbox.raw:1")
    with pytest.raises(SealingError, match="not a sealed value"):
        old.open(b"<xml/>", b"c")


def test_index_keys_are_derived_or_given_and_stay_secret_free() -> None:
    one = AesGcmSealer(parse_keyring(f"k1:{KEY}") or pytest.fail())
    other = AesGcmSealer(parse_keyring(f"k1:{OTHER}") or pytest.fail())
    assert one.index_key() != other.index_key() and one.explicit_index_key is None
    given = AesGcmSealer(parse_keyring(f"k1:{KEY}") or pytest.fail(), b"secret")
    assert given.index_key() == given.explicit_index_key == PlainSealer(b"secret").index_key()
    assert len(one.index_key()) == 32 and base64.b64decode(KEY) != one.index_key()


def test_settings_without_keys_store_in_clear() -> None:
    plain = sealer_from_settings(Settings(encryption_keys=None))
    assert plain.key_id == "plain" and plain.seal(b"x", b"c") == b"x"
    sealed = sealer_from_settings(Settings(encryption_keys=SecretStr(f"k1:{KEY}")))
    assert sealed.key_id == "k1" and sealed.seal(b"x", b"c") != b"x"
