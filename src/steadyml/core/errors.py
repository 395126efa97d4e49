"""Every error steadyml raises on purpose.

    SteadyError
    ├── ConfigurationError (ValueError)        bad settings or options
    ├── StoreError
    │   ├── StoreUnavailableError (ConnectionError)
    │   └── ArtifactError
    │       ├── ArtifactNotFoundError (LookupError)
    │       └── ArtifactCorruptError (ValueError)
    ├── NotFoundError (LookupError)
    │   ├── ExperimentNotFoundError
    │   ├── RunNotFoundError
    │   ├── DatasetNotFoundError
    │   ├── ModelNotFoundError
    │   └── AliasNotFoundError
    ├── InvalidInputError (ValueError)
    │   ├── InvalidNameError
    │   ├── InvalidFilterError
    │   ├── InvalidModelRefError
    │   ├── UnsupportedDataError
    │   ├── UnsupportedModelError
    │   └── SignatureMismatchError
    ├── ConflictError
    │   └── RunStateError
    └── AuditChainError                         a tampered or missing audit entry

A message states the fact, the value at fault and what to do next. The CLI prints it to stderr
and exits 1; the HTTP layer maps each branch to one status code.
"""

from __future__ import annotations


class SteadyError(Exception):
    """Base class of every error steadyml raises on purpose."""


class ConfigurationError(SteadyError, ValueError):
    """A setting or option has a value steadyml cannot use."""


class StoreError(SteadyError):
    """The metadata or artifact store failed."""


class StoreUnavailableError(StoreError, ConnectionError):
    """The metadata or artifact store cannot be reached."""


class ArtifactError(StoreError):
    """An artifact cannot be read."""


class ArtifactNotFoundError(ArtifactError, LookupError):
    def __init__(self, digest: str, uri: str) -> None:
        super().__init__(f"Artifact sha256:{digest} is missing from the artifact store at {uri}. "
                         "Check STEADY_ARTIFACTS points at the store it was written to.")


class ArtifactCorruptError(ArtifactError, ValueError):
    def __init__(self, digest: str, actual: str, uri: str) -> None:
        super().__init__(f"Artifact sha256:{digest} at {uri} is corrupt: its content hashes to "
                         f"sha256:{actual}. It was not loaded; restore it from a backup or "
                         "register the model again.")


class NotFoundError(SteadyError, LookupError):
    """A named thing does not exist."""


class ExperimentNotFoundError(NotFoundError):
    def __init__(self, name: str) -> None:
        super().__init__(f"Experiment {name!r} does not exist. "
                         "List experiments with `steady runs list`.")


class RunNotFoundError(NotFoundError):
    def __init__(self, run_id: str) -> None:
        super().__init__(f"Run {run_id!r} does not exist. List runs with `steady runs list`.")


class DatasetNotFoundError(NotFoundError):
    def __init__(self, ref: str) -> None:
        super().__init__(f"Dataset {ref!r} does not exist. Log it first with run.log_dataset().")


class ModelNotFoundError(NotFoundError):
    def __init__(self, name: str, version: int | None = None) -> None:
        if version is None:
            message = (f"Model {name!r} is not registered. "
                       "List registered models with `steady models list`.")
        else:
            message = (f"Model {name!r} has no version {version}. "
                       f"List its versions with `steady models show {name}`.")
        super().__init__(message)


class AliasNotFoundError(NotFoundError):
    def __init__(self, name: str, alias: str) -> None:
        super().__init__(f"Model {name!r} has no alias {alias!r}. Set it with "
                         f"`steady models alias {name}:VERSION {alias}`.")


class InvalidInputError(SteadyError, ValueError):
    """A value given by the caller is malformed."""


class InvalidNameError(InvalidInputError):
    """A name (experiment, model, alias, key) breaks the naming rules."""


class InvalidFilterError(InvalidInputError):
    """A run search filter or ordering cannot be parsed."""


class InvalidModelRefError(InvalidInputError):
    def __init__(self, ref: str) -> None:
        super().__init__(f"Model reference {ref!r} is not of the form NAME:VERSION or "
                         "NAME@ALIAS (e.g. churn:3 or churn@champion).")


class UnsupportedDataError(InvalidInputError):
    """Data is of a type or shape steadyml cannot read."""


class UnsupportedModelError(InvalidInputError):
    """A model object belongs to no supported flavor."""


class SignatureMismatchError(InvalidInputError):
    """Data does not match a model's signature."""


class ConflictError(SteadyError):
    """The change conflicts with the current state."""


class RunStateError(ConflictError, ValueError):
    """The run is in a state that does not allow the change."""


class AuditChainError(SteadyError):
    """The audit log's hash chain is broken: an entry was altered or removed."""
