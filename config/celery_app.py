"""The Celery app: configured in one place, knowing no domain code (tasks are found by name).

Reliability choices: JSON only; tasks acknowledged after they ran (``acks_late``) and requeued
when a worker dies mid-task, one task prefetched at a time, and a visibility timeout far longer
than any task runs, so Redis does not hand a running task to a second worker.
"""

from __future__ import annotations

from celery import Celery

from config.settings import load_settings

TASK_MODULES = ["workers.tasks"]
QUEUE = "depesche"


def create_app() -> Celery:
    settings = load_settings()
    app = Celery("depesche", include=TASK_MODULES)
    app.conf.update(
        broker_url=settings.broker_url or "memory://",
        result_backend=settings.result_backend,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_default_queue=QUEUE,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options={"visibility_timeout": 4 * 3600},
        broker_connection_retry_on_startup=True,
        timezone="UTC",
        enable_utc=True,
        worker_hijack_root_logger=False,
    )
    return app


app = create_app()
