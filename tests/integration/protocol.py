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


# The Bryntum family's 5.6.2 clients (PROTOCOL.md section 5), verbatim; `_g:X` stands for
# `_generatedModelClass_<uuid>` as in the capture.  Each expects the sample data (tasks 1 to 3,
# resource 1).
# Gantt: a child under parent 1, a dependency from it to task 3 (its ends named from/fromEvent/
# fromTask and to/toEvent/toTask) and an assignment (event/eventId, resource/resourceId).
GANTT_SYNC = """{"type":"sync","requestId":17961579239831,"tasks":{"added":[{"parentIndex":2,"startDate":"2024-01-08T00:00:00Z","endDate":"2024-01-09T00:00:00Z","duration":1,"durationUnit":"day","cls":"","name":"New child","calendar":null,"direction":null,"manuallyScheduled":false,"unscheduled":false,"ignoreResourceCalendar":null,"constraintType":null,"constraintDate":null,"percentDone":0,"effort":24,"effortUnit":"hour","inactive":null,"segments":null,"effortDriven":false,"schedulingMode":"Normal","delayFromParent":null,"projectConstraintResolution":"honor","baselines":[],"parentId":1,"$PhantomId":"_g:T"}],"updated":[{"effort":144,"id":1}]},"dependencies":{"added":[{"from":"_g:T","to":3,"type":2,"cls":"","fromSide":null,"toSide":null,"lag":0,"lagUnit":"day","fromEvent":"_g:T","toEvent":3,"active":true,"fromTask":"_g:T","toTask":3,"$PhantomId":"_g:D"}]},"assignments":{"added":[{"event":"_g:T","resource":1,"units":100,"resourceId":1,"eventId":"_g:T","$PhantomId":"_g:A"}]}}"""

# Scheduler Pro: an event added, assigned, and a dependency from it to event 2 (fromEvent/toEvent).
PRO_SYNC = """{"type":"sync","requestId":17961578675791,"events":{"added":[{"startDate":"2024-01-15T00:00:00Z","endDate":"2024-01-16T00:00:00Z","duration":1,"durationUnit":"day","cls":"","name":"New event","calendar":null,"exceptionDates":[],"allDay":false,"showInTimeline":false,"preamble":null,"postamble":null,"$PhantomId":"_g:E"}],"updated":[{"endDate":"2024-01-19T00:00:00Z","startDate":"2024-01-16T00:00:00Z","id":2}]},"assignments":{"added":[{"units":100,"resourceId":1,"eventId":"_g:E","$PhantomId":"_g:A"}]},"dependencies":{"added":[{"type":2,"cls":"","fromSide":null,"toSide":null,"lag":0,"lagUnit":"day","fromEvent":"_g:E","toEvent":2,"active":true,"$PhantomId":"_g:D"}]}}"""

# Scheduler (single assignment): an event and a dependency from it to event 1 (from/to).  The
# capture elides the requestId ("requestId":…); a number stands in for it.
SCHEDULER_SYNC = """{"type":"sync","requestId":17961578700001,"events":{"added":[{"startDate":"2024-01-09T09:00:00Z","endDate":"2024-01-09T11:00:00Z","duration":0.08333333333333333,"durationUnit":"day","cls":"","name":"New event 2","exceptionDates":[],"resourceId":2,"allDay":false,"$PhantomId":"_g:E"}]},"dependencies":{"added":[{"from":"_g:E","to":1,"type":2,"cls":"","lag":0,"lagUnit":"d","$PhantomId":"_g:D"}]}}"""
