from videoai_ray.models import EventType, ImageGenerationRequest, Priority, TaskType
from videoai_ray.scheduler.events import EventSink
from videoai_ray.scheduler.state import Active


def act(task_id: str) -> Active:
    return Active(id=task_id, type=TaskType.IMAGE_GENERATION, priority=Priority.MEDIUM, user_id="u",
                  input={"prompt": "x"}, request=ImageGenerationRequest(prompt="x"), options={}, max_retries=3,
                  metadata={}, webhook_url="https://example.com/hook")


def test_a_failed_transaction_keeps_other_tasks_events_and_drops_the_rejected_chunk(settings):
    sink = EventSink(settings)
    sink.emit(act("running"), EventType.COMPLETED)
    sink.emit(act("new"), EventType.CREATED)
    sink.emit(act("new"), EventType.STARTED)
    events, inserts = sink.take()
    assert len(events) == 3 and len(inserts[0][1]) == 3 and not sink.pending
    sink.give_back(events, drop={"new"})
    events, _ = sink.take()
    assert [(e.task_id, e.event_type) for e in events] == [("running", EventType.COMPLETED)]
