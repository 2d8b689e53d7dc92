from __future__ import annotations

from bot.jobs.queue import Entry, FairQueue


def entry(job_id: int, user_id: int, *keys: str) -> Entry:
    return Entry(job_id, user_id, keys or ("gemini", "model"))


def drain(queue: FairQueue) -> list[int]:
    order = []
    while (next_entry := queue.pop()) is not None:
        order.append(next_entry.job_id)
    return order


def test_members_take_turns() -> None:
    queue = FairQueue()
    for job_id in range(1, 7):
        queue.push(entry(job_id, user_id=1))
    queue.push(entry(7, user_id=2))
    queue.push(entry(8, user_id=3))
    places = queue.places()
    assert [places[j] for j in (1, 7, 8, 2, 6)] == [0, 1, 2, 3, 7]
    assert drain(queue) == [1, 7, 8, 2, 3, 4, 5, 6]


def test_places_match_the_order_jobs_are_served_in() -> None:
    queue = FairQueue()
    users = [1, 1, 2, 1, 3, 3, 2, 1, 4]
    for job_id, user_id in enumerate(users, start=1):
        queue.push(entry(job_id, user_id))
    first = queue.pop()
    assert first is not None and first.job_id == 1
    places = queue.places()
    predicted = sorted(places, key=places.__getitem__)
    assert sorted(places.values()) == list(range(len(predicted)))
    assert drain(queue) == predicted


def test_a_member_who_was_just_served_goes_behind_those_waiting() -> None:
    queue = FairQueue()
    queue.push(entry(1, 1))
    queue.push(entry(2, 1))
    queue.push(entry(3, 2))
    queue.push(entry(4, 3))
    popped = queue.pop()
    assert popped is not None and popped.job_id == 1
    queue.push(entry(5, 1))
    assert drain(queue) == [3, 4, 2, 5]


def test_caps_skip_to_the_next_member_whose_job_may_start() -> None:
    queue = FairQueue()
    queue.push(entry(1, 1, "midjourney", "mj"))
    queue.push(entry(2, 2, "gemini", "g"))
    popped = queue.pop(lambda e: "midjourney" not in e.keys)
    assert popped is not None and popped.job_id == 2
    assert queue.pop(lambda e: "midjourney" not in e.keys) is None
    assert len(queue) == 1 and 1 in queue


def test_a_capped_oldest_job_does_not_hold_back_the_members_later_ones() -> None:
    queue = FairQueue()
    queue.push(entry(1, 1, "midjourney", "mj"))
    queue.push(entry(2, 1, "gemini", "g"))
    queue.push(entry(3, 2, "gemini", "g"))
    uncapped = lambda e: "midjourney" not in e.keys  # noqa: E731
    first, second = queue.pop(uncapped), queue.pop(uncapped)
    assert first is not None and first.job_id == 2, "member 1's turn: their first job that may start"
    assert second is not None and second.job_id == 3
    assert queue.pop(uncapped) is None and 1 in queue
    popped = queue.pop()
    assert popped is not None and popped.job_id == 1, "once the cap frees, the capped job runs"


def test_remove() -> None:
    queue = FairQueue()
    for job_id, user_id in [(1, 1), (2, 2), (3, 1)]:
        queue.push(entry(job_id, user_id))
    assert queue.remove(3) and not queue.remove(3)
    assert queue.remove(2)
    assert drain(queue) == [1]
    assert len(queue) == 0
