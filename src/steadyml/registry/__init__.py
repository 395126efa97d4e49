"""Model registry: versions, aliases, flavors, signatures, verified loading, lineage."""

from steadyml.registry.flavors import Flavor, SavedModel, detect_flavor
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
    "LoadedModel",
    "ModelRef",
    "ModelVersion",
    "Registry",
    "RunRecords",
    "SavedModel",
    "Signature",
    "detect_flavor",
    "model_lineage",
]
