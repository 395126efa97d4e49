"""Model registry: versions, aliases, flavors, signatures, verified loading, lineage."""

from steadyml.registry.flavors import (
    Flavor,
    InputKind,
    Predictor,
    SavedModel,
    detect_flavor,
    input_kind,
    load_model,
    save_model,
)
from steadyml.registry.gates import GateRecord, GateRequiredError, check_gates
from steadyml.registry.lineage import RunRecords, model_lineage
from steadyml.registry.loaded import LoadedModel
from steadyml.registry.models import Registry
from steadyml.registry.refs import ModelRef
from steadyml.registry.signatures import ColumnSpec, DType, Signature
from steadyml.registry.versions import ModelVersion

__all__ = [
    "ColumnSpec",
    "DType",
    "Flavor",
    "GateRecord",
    "GateRequiredError",
    "InputKind",
    "LoadedModel",
    "ModelRef",
    "ModelVersion",
    "Predictor",
    "Registry",
    "RunRecords",
    "SavedModel",
    "Signature",
    "check_gates",
    "detect_flavor",
    "input_kind",
    "load_model",
    "model_lineage",
    "save_model",
]
