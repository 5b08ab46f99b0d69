"""Requests shared by the suites: what the real clients sent (docs/protocol.md), verbatim, and the
builder of sync packages that must be refused as a whole."""

import json

# The load the real 7.3 client sent (docs/protocol.md section 1).
REAL_LOAD = ('{"type":"load","requestId":17957455532200,"stores":["calendars","tasks","resources",'
             '"assignments","dependencies","timeRanges","resourceTimeRanges"]}')

# The sync the real 7.3 client sent (docs/protocol.md section 2).  It expects the sample data:
# revision 1, tasks 1 and 2.
REAL_SYNC = """{"type":"sync","requestId":17957455534381,"revision":1,
 "tasks":{"added":[{"name":"New task","status":"doing","deadline":"2024-03-05T10:30:00Z","durationUnit":"day","cls":"",
                    "$PhantomId":"_generatedEventModel_734de4ce-b445-4cf3-9087-587e6baba2e5"}],
          "updated":[{"name":"Renamed","id":1}],
          "removed":[{"id":2}]},
 "assignments":{"added":[{"units":100,"resourceId":2,"eventId":"_generatedEventModel_734de4ce-b445-4cf3-9087-587e6baba2e5",
                          "$PhantomId":"_generatedAssignmentModel_3c9e344b-ac64-4d66-8532-7efce113f0b6"}]}}"""

# A valid change that goes into every package of refused_sync(): if a refused sync were applied
# in part, the sample's swimlanes would show it.
VALID = {"swimlanes": {"updated": [{"id": "low", "text": "must not be saved"}],
                       "removed": [{"id": "high"}]}}


def refused_sync(rid, **sections) -> dict:
    """A sync package with VALID and `sections` (lists of the same part are joined)."""
    p = {"type": "sync", "requestId": rid}
    p.update(json.loads(json.dumps(VALID)))
    for k, v in sections.items():
        if k in p and isinstance(v, dict):
            for part, recs in v.items():
                p[k][part] = p[k].get(part, []) + recs
        else:
            p[k] = v
    return p
