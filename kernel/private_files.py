"""Files that hold personal data: folders 0700, files 0600, from the moment they exist.

The data directory holds addresses, message bodies and keys (the database, its
``-wal``/``-shm`` files, logs, outbox messages, uploaded CSVs, caches), so nothing in
it is readable by other users of the machine. Each file is created with its mode
(never created loose and then narrowed), and :func:`secure_data_dir` narrows what an
older version left behind.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import threading
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600

#: What outreach itself keeps in a data directory; only these are narrowed on start-up,
#: so a data directory pointed at a folder that holds other things leaves those alone.
_DATA_DIR_FOLDERS = ("logs", "outbox", "keys", "cache", "imports")
_DATA_DIR_FILES = ("outreach.db*",)

_secured: set[str] = set()
_secured_lock = threading.Lock()


def tighten(path: Path) -> None:
    """Take group and other permissions off ``path`` (not following a symlink).

    A file that is not ours to change (another user's) is left as it is.
    """
    with contextlib.suppress(OSError):
        mode = os.lstat(path).st_mode
        if stat.S_ISLNK(mode) or not stat.S_IMODE(mode) & 0o077:
            return
        os.chmod(path, stat.S_IMODE(mode) & ~0o077)


def tighten_tree(root: Path) -> None:
    """:func:`tighten` ``root`` and everything below it (symlinks are not followed)."""
    tighten(root)
    for folder, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            tighten(Path(folder) / name)


def private_dir(path: Path) -> Path:
    """The folder ``path``, created 0700 if missing (parents as usual), narrowed if it exists."""
    try:
        path.mkdir(mode=DIR_MODE)
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            path.mkdir(mode=DIR_MODE)
    except FileExistsError:
        pass
    tighten(path)
    return path


def create_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it does not exist; narrow it if it does."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    os.close(fd)
    tighten(path)


def open_private(path: Path, mode: str = "a+", **kwargs: object):  # type: ignore[no-untyped-def]
    """``open(path, mode)``, creating the file with mode 0600."""
    return open(path, mode, opener=lambda name, flags: os.open(name, flags, FILE_MODE), **kwargs)  # type: ignore[call-overload]


def write_private(path: Path, data: bytes | str, *, durable: bool = False) -> None:
    """Replace ``path`` with ``data`` atomically; the file is 0600 from its first byte.

    :param durable: flush the file to disk before it takes the name (for what cannot be
        rebuilt, such as the data key).
    """
    content = data.encode() if isinstance(data, str) else data
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def secure_data_dir(path: Path) -> Path:
    """Create the data directory 0700, and once per process narrow what an older version left.

    Older versions created the folder 0755 and its files 0644; the folder itself, the
    database files and outreach's own subfolders (with everything in them) lose their
    group and other permissions.
    """
    key = str(path)
    if key in _secured and path.is_dir():
        return path
    with _secured_lock:
        private_dir(path)
        tighten(path.resolve())  # a data directory that is a link: the folder it points to
        for pattern in _DATA_DIR_FILES:
            for found in path.glob(pattern):
                tighten(found)
        for name in _DATA_DIR_FOLDERS:
            if (path / name).is_dir() and not (path / name).is_symlink():
                tighten_tree(path / name)
        _secured.add(key)
    return path
