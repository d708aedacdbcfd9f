"""Write a file so that it appears whole or not at all."""

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_write(path, mode="wb", *, keep_partial=False, **open_kwargs):
    """Open a temporary file beside ``path`` that replaces it only on success.

    The file is written in the same folder (so the final rename is atomic);
    when the block ends normally it replaces ``path`` in one step, and
    whatever was at ``path`` before is left intact until then. On an error
    the temporary file is removed, or with ``keep_partial`` kept as
    ``<path>.partial`` with what was written (rows of a long scoring run).

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "out.txt")
    >>> with atomic_write(path, "w") as file:
    ...     _ = file.write("whole")
    >>> open(path).read()
    'whole'
    """
    path = Path(path)
    if keep_partial:
        temporary = path.with_name(f"{path.name}.partial")
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    else:
        handle, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
        )
        # mkstemp makes the file private; give it the mode a new file gets.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
    try:
        with os.fdopen(handle, mode, **open_kwargs) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        if not keep_partial:
            Path(temporary).unlink(missing_ok=True)
        raise
