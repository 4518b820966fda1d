"""The guideline published as FHIR (CPG-on-FHIR): the generated artifact, its URLs and `PlanDefinition/$apply`.

A side branch of the service, not a step of a hook call: it reads the guideline's data (and, for `$apply`,
runs the hook evaluation through `cds_service.invocation`), and nothing in the call path imports it.
"""
