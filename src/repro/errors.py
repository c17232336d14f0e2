"""The one error tree of repro.

Every error the user can cause or meet is a ``ReproError``; ``repro.cli`` is
the only place that turns them into a one-line message and an exit code::

    ReproError                      exit 1
    ├── UsageError                  exit 2   bad arguments or options
    ├── NotARepository              exit 3   no .repro found
    ├── NotFound                    exit 3   target, object, model unknown
    │   └── AmbiguousTarget         exit 3   a prefix names several records
    ├── InputError                  exit 4   a file we were asked to read is unusable
    │   ├── NotAnImage              exit 4   empty, unknown magic bytes
    │   ├── TruncatedFile           exit 4   container ends mid-structure
    │   └── LimitExceeded           exit 4   a bound on untrusted input was hit
    ├── ConflictError               exit 5   would overwrite different content
    ├── UnsafePath                  exit 5   a path escapes the allowed roots
    ├── LockError                   exit 6   another writer holds the lock
    │   └── ReadOnlyStore           exit 6   the store can be read, not written
    ├── IntegrityError              exit 7   stored bytes do not match their id
    │   └── ChecksumMismatch        exit 7
    ├── GeneratorUnreachable        exit 8   the generator's server does not answer
    ├── JobFailed                   exit 9   the server refused or failed a job
    ├── NotReproducible             exit 10  a rerun would not use the recorded bytes
    └── RemoteError                 exit 11  a remote refused or did not answer
        └── RemoteIntegrity         exit 11  a remote returned bytes that are not what it claims
            └── RemoteIndexDamaged  exit 11  the remote's index cannot be read, or lists what is gone
"""

from __future__ import annotations


class ReproError(Exception):
    """Base of every error repro reports to a person."""

    exit_code = 1
    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


class UsageError(ReproError):
    exit_code = 2


class NotARepository(ReproError):
    exit_code = 3
    hint = "run `repro init` in the project folder, or pass -C DIR"


class NotFound(ReproError):
    exit_code = 3


class AmbiguousTarget(NotFound):
    hint = "give more hex digits of the record id"


class InputError(ReproError):
    exit_code = 4


class NotAnImage(InputError):
    pass


class TruncatedFile(InputError):
    pass


class LimitExceeded(InputError):
    pass


class ConflictError(ReproError):
    exit_code = 5
    hint = "use --force to overwrite (the displaced file is stored first)"


class UnsafePath(ReproError):
    exit_code = 5


class LockError(ReproError):
    exit_code = 6
    hint = "wait for the other repro process, or raise --lock-timeout"


class ReadOnlyStore(LockError):
    """The ``.repro`` folder cannot be written (a read-only mount, a teammate's store)."""

    hint = "reading commands work; copy the project somewhere writable to change it"


class IntegrityError(ReproError):
    exit_code = 7
    hint = "run `repro fsck` to see every damaged object"


class ChecksumMismatch(IntegrityError):
    """Bytes read back do not hash to the id they were stored under."""

    def __init__(self, what: str, expected: str, got: str) -> None:
        super().__init__(f"{what}: expected blake3 {expected}, got {got}")
        self.expected = expected
        self.got = got


class GeneratorUnreachable(ReproError):
    """A generator's server (ComfyUI) did not answer a job request."""

    exit_code = 8
    hint = "is ComfyUI running? check the URL (--comfyui or [comfyui] url in .reprorc)"


class JobFailed(ReproError):
    """The server refused a job (validation, an unknown node class, a missing model)
    or the job failed while running (out of memory, interrupted, cancelled)."""

    exit_code = 9


class NotReproducible(ReproError):
    """A rerun was asked for, but the recorded bytes cannot be put in place."""

    exit_code = 10
    hint = ("run `repro verify TARGET` for the reasons; `--checkout` restores the recorded "
            "versions (with `--force` over different files)")


class RemoteError(ReproError):
    """A remote (S3 bucket, NAS folder) refused a request or did not answer:
    wrong credentials, a missing bucket or folder, an endpoint that is down."""

    exit_code = 11
    hint = "check the remote with `repro remote list`, its endpoint and your AWS credentials"


class RemoteIntegrity(RemoteError):
    """A remote returned bytes that do not hash to what its index says: never used."""

    hint = "the remote is damaged or tampered with; nothing was taken from it into the store"


class RemoteIndexDamaged(RemoteIntegrity):
    """The remote's own index cannot be read (a segment that is not one, or whose bytes
    are not its hash) or lists an object the remote does not have."""

    hint = ("run `repro remote check NAME --repair`: it drops what cannot be read or is gone "
            "from the remote's index (no object is deleted); a push from a store that has "
            "those records lists them again")
