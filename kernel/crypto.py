"""Personal data at rest: encryption, keyed hashes, and where the keys live.

Email addresses, phone numbers, contact names and inbound message bodies are
stored as Fernet tokens. Beside an encrypted address the store keeps a keyed hash
(HMAC-SHA256 of the normalized address), so look-ups and de-duplication work without
decrypting and the suppression list can outlive an erasure.

The key material is a small JSON document, ``{"fernet": [newest, ...], "hmac": ...}``,
taken from the first of: the ``OUTREACH_DATA_KEY`` environment variable, the OS
keyring (service ``outreach``, name ``data-key``), or ``<data dir>/keys/data.key``,
created with mode 0600 on first use. The HMAC key never changes; Fernet keys rotate
(see :meth:`Vault.rotated`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .addresses import sendable_address
from .errors import ConfigError
from .private_files import private_dir, write_private

KEY_ENV = "OUTREACH_DATA_KEY"
KEYRING_SERVICE, KEYRING_NAME = "outreach", "data-key"


class Vault:
    """Encrypts, decrypts and hashes personal data with one set of keys."""

    def __init__(self, fernet_keys: list[str], hmac_key: str, *, source: str) -> None:
        if not fernet_keys:
            raise ConfigError("The data key holds no encryption key; restore it from a backup.")
        self._keys = list(fernet_keys)
        self._hmac_key = base64.urlsafe_b64decode(hmac_key)
        self._hmac_key_text = hmac_key
        self._derived: dict[str, bytes] = {}
        self._fernet = MultiFernet([Fernet(k.encode()) for k in fernet_keys])
        #: Where the keys came from: ``env``, ``keyring`` or the key file's path.
        self.source = source

    @classmethod
    def generate(cls, *, source: str = "generated") -> Vault:
        """A vault with fresh random keys."""
        return cls(
            [Fernet.generate_key().decode()],
            base64.urlsafe_b64encode(os.urandom(32)).decode(),
            source=source,
        )

    def to_json(self) -> str:
        """The key material, for storing (this is the secret itself)."""
        return json.dumps({"fernet": self._keys, "hmac": self._hmac_key_text})

    @classmethod
    def from_json(cls, text: str, *, source: str) -> Vault:
        """Read key material written by :meth:`to_json`."""
        try:
            data = json.loads(text)
            return cls(list(data["fernet"]), str(data["hmac"]), source=source)
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"The data key from {source} is not valid key material ({exc}); restore it from a backup."
            ) from None

    def rotated(self) -> Vault:
        """A vault whose newest key is fresh; it still decrypts with the old keys."""
        return Vault(
            [Fernet.generate_key().decode(), *self._keys],
            self._hmac_key_text,
            source=self.source,
        )

    def newest_only(self) -> Vault:
        """This vault without its old keys (after every token was re-encrypted)."""
        return Vault(self._keys[:1], self._hmac_key_text, source=self.source)

    def encrypt(self, value: str | None) -> str | None:
        """Encrypt ``value`` (None and empty stay as they are)."""
        if not value:
            return value
        return self._fernet.encrypt(value.encode()).decode()

    def decrypt(self, token: str | None) -> str | None:
        """Decrypt a token made by :meth:`encrypt` with any of the known keys."""
        if not token:
            return token
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise ConfigError(
                "Stored personal data cannot be decrypted with the current data key; "
                f"the key from {self.source} is not the one the data was written with."
            ) from None

    def reencrypt(self, token: str | None) -> str | None:
        """Re-encrypt a token under the newest key."""
        if not token:
            return token
        return self._fernet.rotate(token.encode()).decode()

    def hash_email(self, email: str | None) -> str | None:
        """A keyed hash of a normalized email address (trimmed, IDNA domain, case-folded), so
        ``info@bücher.de`` and ``info@xn--bcher-kva.de`` are one address."""
        if not email:
            return None
        normalized = sendable_address(email).casefold()
        return hmac.new(self._hmac_key, normalized.encode(), hashlib.sha256).hexdigest()

    def derive(self, purpose: str) -> bytes:
        """A 32-byte key for ``purpose`` (CSRF, tracking tokens) derived from the HMAC key."""
        # Derived once per purpose: tracking asks for its key for every message sent.
        if purpose not in self._derived:
            self._derived[purpose] = HKDF(
                algorithm=hashes.SHA256(), length=32, salt=None, info=purpose.encode()
            ).derive(self._hmac_key)
        return self._derived[purpose]


def _from_keyring() -> str | None:
    try:
        import keyring
        from keyring.errors import KeyringError

        return keyring.get_password(KEYRING_SERVICE, KEYRING_NAME)
    except (ImportError, KeyringError, RuntimeError):
        # No usable keyring backend (the usual case on a headless machine).
        return None


def key_file(data_dir: Path) -> Path:
    """Where the key file lives when neither the environment nor a keyring holds the key."""
    return data_dir / "keys" / "data.key"


def write_key_file(path: Path, vault: Vault) -> None:
    """Write ``vault``'s keys to ``path`` with mode 0600, replacing it atomically.

    The file is on disk before it takes the name: a crash must never leave a key file
    that is empty while the database holds data encrypted with its key.
    """
    private_dir(path.parent)
    write_private(path, vault.to_json(), durable=True)


def store_in_keyring(vault: Vault) -> None:
    """Replace the key material kept in the OS keyring."""
    # Imported here: loading keyring probes every backend, which only this path needs.
    import keyring

    keyring.set_password(KEYRING_SERVICE, KEYRING_NAME, vault.to_json())


def load_vault(data_dir: Path) -> Vault:
    """Find the key material (environment, keyring, key file), creating a key file if none."""
    env = os.environ.get(KEY_ENV)
    if env:
        return Vault.from_json(env, source=f"the {KEY_ENV} environment variable")
    stored = _from_keyring()
    if stored:
        return Vault.from_json(stored, source="the OS keyring")
    path = key_file(data_dir)
    if path.exists():
        return Vault.from_json(path.read_text(), source=str(path))
    vault = Vault.generate(source=str(path))
    write_key_file(path, vault)
    return vault
