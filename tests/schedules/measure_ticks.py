"""Measures (not a test): how late the tasks of an every-second cron are created, and how long a
killed Scheduler takes to fire again. Figures go in docs/schedules.md.

    PYTHONPATH=. python tests/schedules/measure_ticks.py 30
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import ray

import videoai_ray as vai
from videoai_ray.providers.testing import NoopProvider
from videoai_ray.scheduler import NAMESPACE, kill_scheduler, scheduler_name


def main(seconds: int) -> None:
    settings = vai.Settings(home=Path(tempfile.mkdtemp()), instance="m-sched", prefetch=0,
                            schedule_min_interval_seconds=1)
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, namespace=NAMESPACE)
    client = vai.connect(settings=settings, providers=[NoopProvider()])
    s = client.schedule("image_generation", {"prompt": "m", "provider": "noop", "use_cache": False},
                        cron="* * * * * *", misfire_grace_seconds=120)
    time.sleep(seconds)
    killed_at = time.time()
    ray.kill(ray.get_actor(scheduler_name(settings), namespace=NAMESPACE), no_restart=False)
    time.sleep(10)
    s.pause()
    tasks = [t for t in client.service.store.list(user_id=client.user_id, limit=100_000)
             if (t.metadata.get("schedule") or {}).get("id") == s.id]
    tick = {t.id: datetime.fromisoformat(t.metadata["schedule"]["tick"]) for t in tasks}
    late = sorted((t.created_at - tick[t.id]).total_seconds() for t in tasks
                  if tick[t.id].timestamp() < killed_at - 1)
    back = min(t.created_at.timestamp() for t in tasks if t.created_at.timestamp() > killed_at) - killed_at
    print(f"ticks before the kill: {len(late)}; lateness p50 {statistics.median(late) * 1000:.0f} ms, "
          f"p95 {late[int(0.95 * len(late)) - 1] * 1000:.0f} ms, max {late[-1] * 1000:.0f} ms")
    rec = s.refresh().record
    print(f"kill -> first task of the restarted Scheduler: {back:.1f} s; tasks {len(tasks)}, "
          f"distinct ticks {len(set(tick.values()))}, fired {rec['ticks_fired']}, missed {rec['ticks_missed']}")
    kill_scheduler(settings)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
