"""runyard-operator: the TrackerInstance operator (kopf). It renders charts/runyard for each instance and
applies the result with server-side apply; docs/operator.md is the user's guide.

The public surface, usable without a cluster:

    from runyard_operator import render, to_values, validate_spec, apply_defaults, spec_schema
"""

from .render import Rendered, render
from .schema import GROUP, KIND, PLURAL, VERSION, apply_defaults, crd, spec_schema, validate_spec
from .values import instance_url, to_values

__all__ = ["GROUP", "KIND", "PLURAL", "VERSION", "Rendered", "apply_defaults", "crd", "instance_url", "render",
           "spec_schema", "to_values", "validate_spec"]
