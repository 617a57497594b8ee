"""The phone revisit (DOMAIN.md section 2): the agents' queue, claims, attempts, letter hand-over.

    claim.py     "下一个任务" and a named claim (the stored procedure on MariaDB), the idle
                 reservation and its lapse, lapsed callbacks, the supervisors' assign and release
    attempts.py  recording a call and where its outcome takes the task
    queries.py   what the workbench, the board and the call-centre API read

Every status change is an event of the revisit task's one state table
(app/services/revisit/states.py): claim, give_back, release, assign, reservation_lapse,
callback_lapse, call_<outcome>, tries_run_out.
"""
from app.services.phone_revisit.attempts import (OUTCOME_STATUS, REACHED, UNCOUNTED,
                                                 parse_callback_at, record_attempt)
from app.services.phone_revisit.claim import (CLAIM_TRIES, assign, claim_next, claim_task, queue_filter,
                                              queue_size, release, release_lapsed, reopen_lapsed_callbacks,
                                              touch)
from app.services.phone_revisit.queries import (agent_load, attempts_page, board, comes_back_on, done_today,
                                                held_by, history, policy_of, problem_cases, results_page,
                                                reveal, task_for, tasks_of_policy, waiting_later)
from app.services.revisit.states import BOARD, PHONE_OPEN
from app.services.revisit.states import RESULTS as RESULT_STATUSES
from app.services.revisit.states import can


__all__ = ["claim_next", "claim_task", "release", "assign", "release_lapsed", "reopen_lapsed_callbacks",
           "record_attempt", "task_for", "history", "reveal", "agent_load", "queue_size", "queue_filter",
           "touch", "parse_callback_at", "policy_of", "held_by", "done_today", "board", "problem_cases",
           "results_page", "attempts_page", "tasks_of_policy", "comes_back_on", "waiting_later", "can",
           "OUTCOME_STATUS", "RESULT_STATUSES",
           "PHONE_OPEN", "BOARD", "REACHED", "UNCOUNTED", "CLAIM_TRIES"]
