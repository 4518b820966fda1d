"""The bounds on what one hook call may gather, in one place (README: "Bounds").

The FHIR server and the prefetch are both outside the service's control. Memory and time spent on them must
stay proportional to what they send, under a ceiling, whatever they send. Python's JSON objects cost up to
24 times the bytes they came from (a page of `{}` entries; real FHIR JSON costs about 2 times), so a
fetched page is measured twice before it is parsed: in bytes and in JSON values (a count of `{`, `[` and
`,`, an upper bound on the values it holds).
"""

from __future__ import annotations

from cds_service.protocol.json_body import MAX_RESOURCE_DEPTH as _MAX_RESOURCE_DEPTH
from cds_service.protocol.json_body import json_values

__all__ = [
    "MAX_CALL_BYTES",
    "MAX_CALL_JSON_VALUES",
    "MAX_ENTRIES_PER_KEY",
    "MAX_LABEL_ID_CHARS",
    "MAX_LISTED_ISSUES",
    "MAX_PAGE_BYTES",
    "MAX_RESOURCE_DEPTH",
    "json_values",
]

# One page of a FHIR search, as read from the socket (a page of 1,000 lab results is about 2 MB).
MAX_PAGE_BYTES = 8 * 1024 * 1024
# Every page of every key of one hook call together: a patient with thousands of resources is 2-5 MB.
MAX_CALL_BYTES = 16 * 1024 * 1024
# JSON values in every page of one hook call together (real FHIR JSON: one value per 25-35 bytes, so the
# byte bound comes first; a page of tiny values meets this one first and is refused before it is parsed).
MAX_CALL_JSON_VALUES = 600_000
# Bundle entries of one prefetch key (all its pages): more is refused, the key is missing (412).
MAX_ENTRIES_PER_KEY = 10_000
# JSON nesting within one resource: deeper ones are left out as data issues (the limit is the protocol's).
MAX_RESOURCE_DEPTH = _MAX_RESOURCE_DEPTH
# Data issues listed in a response; the rest are counted.
MAX_LISTED_ISSUES = 50
# A resource id shown in a data issue is cut to this length (FHIR ids have at most 64 characters).
MAX_LABEL_ID_CHARS = 64
