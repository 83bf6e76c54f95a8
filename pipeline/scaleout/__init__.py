"""Scale-out: many workers on many hosts share one batch through PostgreSQL.

::

    voice-onboard enqueue JOB     one procrastinate job per voice still to send (cron-safe)
    voice-onboard worker JOB      takes jobs: prepare + create/upload/submit one voice each;
                                  polls the batch in bulk periodically; recovers stalled jobs
    voice-onboard manifest JOB    the manifest from the shared ledger, on any host

Pieces: ``app`` (queue, tasks, procrastinate schema), ``tasks`` (what a job does), ``worker``
(stalled-job recovery, ``--until-done``, signals), ``enqueue``, ``manifest``, ``locks``
(per-voice advisory locks), ``ratelimit`` (one request window per provider API in the
database, shared by every worker), ``provider`` (the provider behind that window),
``testing`` (a fresh schema per test on a real server).

Safety comes from the layers below, not from the queue: procrastinate delivers a job at least
once, so the ledger's intent stages and the provider's reconciliation (Huawei list-and-adopt,
Azure deterministic ids) are what keep a retried job from making a second remote job.
"""
