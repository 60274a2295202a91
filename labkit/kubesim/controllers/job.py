"""The Job controller: run pods to completion (completions, parallelism, backoffLimit).

As the job controller (kubernetes.io "Jobs"): up to ``parallelism`` pods run at a time, never more
than the completions still needed; each pod that succeeds counts towards ``completions``; each
failed pod counts towards ``backoffLimit`` (with ``restartPolicy: OnFailure`` the kubelet restarts
the container instead, and its restarts count). Replacement pods for failures wait the Job's
back-off (10 s, doubled per failure, at most 6 minutes). Conditions: ``SuccessCriteriaMet`` then
``Complete`` (reason CompletionsReached, "Reached expected number of succeeded pods"), or
``FailureTarget`` then ``Failed`` (reason BackoffLimitExceeded, "Job has reached the specified
backoff limit"); ``activeDeadlineSeconds`` gives DeadlineExceeded. Events: ``SuccessfulCreate``
"Created pod: NAME", ``Completed`` "Job completed", ``BackoffLimitExceeded``.
"""
from __future__ import annotations

from typing import Any

from ..clock import parse
from .. import naming
from ..objects import pod_from_template, ready_since
from . import WorkloadController

Obj = dict[str, Any]
BACKOFF = 10.0
MAX_BACKOFF = 360.0


class JobController(WorkloadController):
    name = "job-controller"
    watches = ("batch/jobs", "/pods")

    workload = "batch/jobs"
    workload_kind = "Job"

    def sync(self, key) -> None:
        namespace, name = key
        job = self.mgr.find("batch/jobs", namespace, name)
        if job is None or job["metadata"].get("deletionTimestamp"):
            return
        status = dict(job.get("status") or {})
        conds = {c["type"]: c for c in status.get("conditions") or []}
        if any(conds.get(t, {}).get("status") == "True" for t in ("Complete", "Failed")):
            return
        spec = job["spec"]
        now = self.mgr.now()
        pods = self.mgr.index.owned(job, "/pods")
        succeeded = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Succeeded")
        failed = sum(1 for p in pods if (p.get("status") or {}).get("phase") == "Failed")
        restarts = sum(cs.get("restartCount", 0) for p in pods for cs in (p.get("status") or {}).get("containerStatuses") or []) \
            if spec["template"]["spec"].get("restartPolicy") == "OnFailure" else 0
        running = [p for p in pods if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
                   and not p["metadata"].get("deletionTimestamp")]
        completions = spec.get("completions")
        parallelism = int(spec.get("parallelism", 1) if spec.get("parallelism") is not None else 1)
        backoff_limit = int(spec.get("backoffLimit", 6))
        stamp = self.mgr.stamp()
        if "startTime" not in status and not spec.get("suspend"):
            status["startTime"] = stamp
        new_conds = [c for c in status.get("conditions") or []]
        done_reason = None
        deadline = spec.get("activeDeadlineSeconds")
        if failed + restarts > backoff_limit:
            done_reason = ("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit")
        elif deadline is not None and parse(status["startTime"]).timestamp() + int(deadline) <= now:
            done_reason = ("Failed", "DeadlineExceeded", "Job was active longer than specified deadline")
        elif (completions is not None and succeeded >= int(completions)) or (completions is None and succeeded > 0 and not running):
            done_reason = ("Complete", "CompletionsReached", "Reached expected number of succeeded pods")
        if done_reason is not None:
            kind, reason, message = done_reason
            first = "SuccessCriteriaMet" if kind == "Complete" else "FailureTarget"
            for t in (first, kind):
                new_conds.append({"type": t, "status": "True", "reason": reason, "message": message,
                                  "lastProbeTime": stamp, "lastTransitionTime": stamp})
            for p in running:
                self.mgr.delete("/pods", p)
            running = []
            if kind == "Complete":
                status["completionTime"] = stamp
                self.mgr.recorder.record(job, "Normal", "Completed", "Job completed", "job-controller")
            else:
                self.mgr.recorder.record(job, "Warning", reason, message, "job-controller")
        elif not spec.get("suspend"):
            want = parallelism if completions is None else min(parallelism, int(completions) - succeeded)
            missing = want - len(running)
            if missing > 0:
                delay = 0.0 if failed == 0 else min(MAX_BACKOFF, BACKOFF * 2 ** (failed - 1))
                last_fail = max((parse(cs["state"]["terminated"]["finishedAt"]).timestamp()
                                 for p in pods if (p.get("status") or {}).get("phase") == "Failed"
                                 for cs in p["status"].get("containerStatuses") or []
                                 if (cs.get("state") or {}).get("terminated", {}).get("finishedAt")), default=now)
                if failed and last_fail + delay > now + 1e-6:
                    self.after(last_fail + delay - now, key)
                else:
                    for _ in range(missing):
                        self._create(job)
                        running.append(None)  # type: ignore[arg-type]
            if deadline is not None:
                self.after(parse(status["startTime"]).timestamp() + int(deadline) - now, key)
        status["conditions"] = new_conds
        if not new_conds:
            del status["conditions"]
        status["active"] = len(running)
        status["succeeded"] = succeeded
        status["failed"] = failed
        status["ready"] = sum(1 for p in running if p is not None and ready_since(p) is not None)
        status["terminating"] = sum(1 for p in pods if p["metadata"].get("deletionTimestamp"))
        status["uncountedTerminatedPods"] = {}
        status = {k: v for k, v in status.items() if v or k in ("ready", "terminating", "uncountedTerminatedPods")}

        def put(obj: Obj) -> Obj | None:
            if obj.get("status") == status:
                return None
            obj["status"] = status
            return obj
        self.mgr.mutate("batch/jobs", namespace, name, put, shallow=True)

    def _create(self, job: Obj) -> None:
        name = naming.generated(job["metadata"]["name"], self.mgr.suffix("pod/" + job["metadata"]["uid"]))
        pod = pod_from_template(job, name, None)
        self.mgr.create("/pods", pod)
        self.mgr.recorder.record(job, "Normal", "SuccessfulCreate", f"Created pod: {name}", "job-controller")
