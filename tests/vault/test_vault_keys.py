from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from smartpay.vault.keys import KEY_BYTES, KeyringError, LocalKeyring


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_keyring_is_created_on_first_use_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "data" / "keys" / "keyring.json"
    keyring = LocalKeyring(path)
    assert not path.exists()  # nothing happens at construction

    assert keyring.current_version == "v1"
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    document = json.loads(path.read_text())
    assert set(document["versions"]) == {"v1"}
    assert len(keyring.fingerprint_key) == KEY_BYTES
    assert keyring.fingerprint_key not in {v.encode() for v in document["versions"].values()}
    # No temporary files are left beside it.
    assert [p.name for p in path.parent.iterdir()] == ["keyring.json"]


def test_existing_directory_mode_is_left_alone(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o755)
    LocalKeyring(tmp_path / "keyring.json").generate_data_key()
    assert mode(tmp_path) == 0o755
    assert mode(tmp_path / "keyring.json") == 0o600


def test_data_key_round_trip(tmp_path: Path) -> None:
    keyring = LocalKeyring(tmp_path / "keyring.json")
    data_key = keyring.generate_data_key()
    assert len(data_key.plaintext) == KEY_BYTES
    assert data_key.plaintext not in data_key.wrapped
    assert data_key.key_version == "v1"
    assert keyring.unwrap(data_key.wrapped, data_key.key_version) == data_key.plaintext
    assert data_key.plaintext.hex() not in repr(data_key)
    # Fresh key and nonce each time.
    other = keyring.generate_data_key()
    assert other.plaintext != data_key.plaintext
    assert other.wrapped[:12] != data_key.wrapped[:12]


def test_tampered_wrapped_key_is_refused(tmp_path: Path) -> None:
    keyring = LocalKeyring(tmp_path / "keyring.json")
    data_key = keyring.generate_data_key()
    tampered = bytearray(data_key.wrapped)
    tampered[-1] ^= 1
    with pytest.raises(KeyringError):
        keyring.unwrap(bytes(tampered), "v1")
    with pytest.raises(KeyringError):
        keyring.unwrap(data_key.wrapped[:10], "v1")


def test_key_version_is_bound_to_the_wrapped_key(tmp_path: Path) -> None:
    keyring = LocalKeyring(tmp_path / "keyring.json")
    data_key = keyring.generate_data_key()
    keyring.add_version()
    with pytest.raises(KeyringError):
        keyring.unwrap(data_key.wrapped, "v2")
    with pytest.raises(KeyringError, match="no key version"):
        keyring.unwrap(data_key.wrapped, "v9")


def test_add_version_keeps_old_versions_and_persists(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    keyring = LocalKeyring(path)
    old = keyring.generate_data_key()
    fingerprint_key = keyring.fingerprint_key

    assert keyring.add_version() == "v2"
    assert keyring.current_version == "v2"
    assert keyring.versions == ["v1", "v2"]
    assert mode(path) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["keyring.json"]

    new = keyring.generate_data_key()
    assert new.key_version == "v2"
    assert keyring.unwrap(old.wrapped, "v1") == old.plaintext

    reopened = LocalKeyring(path)
    assert reopened.current_version == "v2"
    assert reopened.fingerprint_key == fingerprint_key
    assert reopened.unwrap(old.wrapped, "v1") == old.plaintext
    assert reopened.unwrap(new.wrapped, "v2") == new.plaintext


def test_rewrap_moves_a_data_key_to_the_current_version(tmp_path: Path) -> None:
    keyring = LocalKeyring(tmp_path / "keyring.json")
    data_key = keyring.generate_data_key()
    keyring.add_version()
    rewrapped = keyring.rewrap(data_key.wrapped, data_key.key_version)
    assert rewrapped.key_version == "v2"
    assert keyring.unwrap(rewrapped.wrapped, "v2") == data_key.plaintext


def test_a_running_process_sees_a_version_added_by_another(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    server = LocalKeyring(path)
    assert server.current_version == "v1"
    cli = LocalKeyring(path)
    cli.add_version()
    wrapped_by_cli = cli.generate_data_key()
    assert server.current_version == "v2"
    assert server.unwrap(wrapped_by_cli.wrapped, "v2") == wrapped_by_cli.plaintext


def test_two_keyrings_on_one_new_path_agree(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    first, second = LocalKeyring(path), LocalKeyring(path)
    data_key = first.generate_data_key()
    assert second.unwrap(data_key.wrapped, "v1") == data_key.plaintext
    assert first.fingerprint_key == second.fingerprint_key


def test_a_keyring_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    LocalKeyring(path).generate_data_key()
    os.chmod(path, 0o644)
    with pytest.raises(KeyringError, match="chmod 600"):
        LocalKeyring(path).generate_data_key()


def test_a_malformed_keyring_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keyring.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b'{"format": 1, "current": "v2", "versions": {}}')
    os.close(fd)
    with pytest.raises(KeyringError, match="malformed"):
        LocalKeyring(path).generate_data_key()


def test_mac_is_keyed(tmp_path: Path) -> None:
    first = LocalKeyring(tmp_path / "a.json")
    second = LocalKeyring(tmp_path / "b.json")
    assert first.mac(b"message") == first.mac(b"message")
    assert first.mac(b"message") != first.mac(b"other")
    assert first.mac(b"message") != second.mac(b"message")
