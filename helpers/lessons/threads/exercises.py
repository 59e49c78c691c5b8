"""Lesson 02's exercise checks: the learner's threads, run and judged by what they do.

Introduced in 02_threads.ipynb, "Exercises". Each ``feedback_*`` runs the learner's code
against the slow local server or on shared data, under a timeout, and says in the learner's
terms what happened (seconds taken, threads left running, deposits lost). None raises: an
unanswered exercise prints what to do (CI runs the notebook as shipped).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ...course.feedback import call_with_timeout, feedback, unanswered
from ...course.progress import reveal
from ...servers.http import slow_server
from .basics import threads_left
from .race import run_together
from .speedup import IOSpeedupResult

FETCH_ALL = "fetch a list of URLs with threads"
ACCOUNT = "a thread-safe bank account"
CAPPED = "a server that serves four at a time"
EXERCISES = [FETCH_ALL, ACCOUNT, CAPPED]
LEARNER_TIMEOUT = 20.0  # seconds the learner's code may run before the check gives up on it


def feedback_fetch_all(fetch_all: Callable[[list[str]], list[bytes]] | None, requests: int = 24,
                       delay: float = 0.05, deadline: float = 0.5) -> bool:
    """Exercise 1: does fetch_all(urls) return every answer, in order, within `deadline` s?

    Judged by the answers (bytes, in the order of the URLs), the wall time in seconds, and
    the threads still running after it returned.
    """
    if fetch_all is None:
        unanswered("Write fetch_all(urls) in the cell above, run it, then run this cell.", exercise=FETCH_ALL)
        return False
    before = set(threading.enumerate())
    with slow_server(delay) as server:
        urls = [f"{server.url}?echo=answer-{i}" for i in range(requests)]
        how, answers, took = call_with_timeout(fetch_all, (urls,), LEARNER_TIMEOUT)
        if how == "timeout":
            return feedback(False, "", f"your code did not return within {LEARNER_TIMEOUT:g} s: "
                            "is a thread waiting forever?", exercise=FETCH_ALL)
        error, answers = (answers, None) if how == "raised" else (None, answers)
        answers = list(answers) if isinstance(answers, list) else answers  # as returned
        # counted while the server still answers, so threads not joined end normally
        left = [name for name in threads_left(before, grace=0.2) if name != "exercise"]
    if error is None and answers is None:
        unanswered("fetch_all returned None: complete it so that it returns the list of answers.",
                   exercise=FETCH_ALL)
        return False
    problems = fetch_all_problems(answers, error, took, left, requests, delay, deadline)
    return feedback(not problems, f"all {requests} answers, in order, in {took:.2f} s (one after "
                    f"another: {requests * delay:.1f} s), and no thread left running.",
                    " ".join(problems), exercise=FETCH_ALL)


def fetch_all_problems(answers, error, took, left, requests, delay, deadline) -> list[str]:
    """What is wrong with one run of the learner's fetch_all, in sentences (none: it is right)."""
    if error is not None:
        return [f"fetch_all raised {type(error).__name__}: {error}."]
    problems = []
    if not isinstance(answers, list) or len(answers) != requests:
        got = len(answers) if hasattr(answers, "__len__") else type(answers).__name__
        problems.append(f"Expected a list of {requests} answers, got {got}: did it return before "
                        "the threads finished?")
    elif any(a is None for a in answers):
        problems.append(f"{sum(a is None for a in answers)} of the {requests} answers are "
                        "missing (None): fetch_all returned before its threads had finished. "
                        "join() them first.")
    elif answers != [f"answer-{i}\n".encode() for i in range(requests)]:
        problems.append("The answers are not in the order of the URLs (as_completed gives them as "
                        "they finish; pool.map keeps the order).")
    if took > deadline:
        problems.append(f"{took:.2f} s for {requests} requests of {delay:g} s, over the "
                        f"{deadline:g} s allowed: with n threads they take about "
                        f"ceil({requests}/n) x {delay:g} s.")
    if left:
        problems.append(f"Still running after fetch_all returned: {', '.join(left)}. Join them "
                        "(a with block on the executor does it).")
    return problems


class LedgerAccount:
    """A bank account whose deposit reads, records to a ledger, then writes: it loses deposits.

    The ledger write (time.sleep(0)) stands for I/O; it releases the GIL between the read
    and the write, so another thread's deposit can come in between and be overwritten.
    Exercise 2: the learner writes a subclass that loses nothing.
    """

    def __init__(self) -> None:
        self.balance = 0

    def deposit(self, amount: int) -> None:
        balance = self.balance
        time.sleep(0)  # write to the ledger: I/O, the GIL is released here
        self.balance = balance + amount


def deposit_ones(account, deposits: int) -> None:
    """Deposit 1 into account, `deposits` times (one thread's share in exercise 2)."""
    for _ in range(deposits):
        account.deposit(1)


def feedback_account(account_class: type | None, threads: int = 4, deposits: int = 500) -> bool:
    """Exercise 2: do `threads` threads depositing 1, `deposits` times each, lose any money?

    Judged by lost updates: the expected total minus the final balance.
    """
    if account_class is None or getattr(account_class, "deposit", None) is LedgerAccount.deposit:
        unanswered("Write deposit() in SafeAccount so that no deposit is lost, then run this cell.",
                   exercise=ACCOUNT)
        return False
    try:
        account = account_class()
        args = (deposit_ones, account, deposits, threads)
        how, error, _ = call_with_timeout(run_together, args, LEARNER_TIMEOUT)
        if how != "returned":
            raise error if how == "raised" else TimeoutError(
                f"your code did not return within {LEARNER_TIMEOUT:g} s")
    except Exception as exc:  # the learner's class: reported, not raised
        return feedback(False, "", f"{type(exc).__name__}: {exc}", exercise=ACCOUNT)
    expected = threads * deposits
    balance = getattr(account, "balance", None)
    if not isinstance(balance, int):
        return feedback(False, "", f"Expected an int attribute balance after the deposits, got "
                        f"{balance!r}.", exercise=ACCOUNT)
    lost = expected - balance
    return feedback(
        lost == 0,
        f"{threads} threads deposited {expected:,} in all and the balance is {balance:,}.",
        f"{lost:,} of {expected:,} deposits were lost: one thread read the balance, another "
        "changed it, and the first wrote back its stale sum. Hold a lock around the whole "
        "read, record and write.", exercise=ACCOUNT)


def feedback_capped_speedup(prediction: float | None, result: IOSpeedupResult, threads: int) -> bool:
    """Exercise 3: a predicted speed-up at `threads` threads against the one measured (x), right
    within 25% (a server that serves four requests at a time).
    """
    measured = result.speedup(threads)
    if prediction is None:
        unanswered("Write your predicted speed-up in my_capped_speedup, run it, then this cell.",
                   exercise=CAPPED)
        return False
    reveal(f"speed-up of {threads} threads, server serves {result.max_concurrent} at once",
           prediction, measured, unit="x")
    said = (
        f"you predicted {prediction:g}x, this run measured {measured:.1f}x. "
        f"{result.tasks} requests, at most {result.max_concurrent} served at once, take "
        f"{result.rounds(threads)} rounds of at least {result.delay:g} s each: at best "
        f"{result.rounds_limit(threads):.1f}x (a bit over {result.tasks / result.rounds(threads):g}"
        "x, since one thread also pays each request's connection costs in turn)."
    )
    return feedback(0.75 <= prediction / measured <= 1.33, said, said, exercise=CAPPED)
