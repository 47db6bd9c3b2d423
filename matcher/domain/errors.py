"""Domain errors. The CLI maps them to a message and an exit code, the API to a 4xx body."""

from __future__ import annotations

__all__ = [
    "MatcherError",
    "InvalidProfile",
    "ProfileNotFound",
    "ProfileExists",
    "UnknownCountry",
    "InvalidQuery",
    "InfeasibleConsortium",
    "InfeasibleBatch",
    "JobNotFound",
    "JobExpired",
    "StoreFull",
]


class MatcherError(Exception):
    """Base class of every error the product reports to a user."""


class InvalidProfile(MatcherError):
    """A profile record that cannot be accepted; names the field and the reason."""

    def __init__(self, reason: str, *, field: str | None = None, record_id: str | None = None):
        self.reason = reason
        self.field = field
        self.record_id = record_id
        where = f"field '{field}': " if field else ""
        who = f"profile '{record_id}': " if record_id else ""
        super().__init__(f"{who}{where}{reason}")


class ProfileNotFound(MatcherError):
    def __init__(self, profile_id: str):
        self.profile_id = profile_id
        super().__init__(f"no profile with id '{profile_id}'")


class ProfileExists(MatcherError):
    def __init__(self, profile_id: str):
        self.profile_id = profile_id
        super().__init__(f"a profile with id '{profile_id}' already exists")


class UnknownCountry(MatcherError):
    def __init__(self, value: str):
        self.value = value
        super().__init__(
            f"unknown country or country group '{value}' "
            "(use an ISO 3166-1 code or name, or a group such as 'eu' or 'widening')"
        )


class InvalidQuery(MatcherError):
    """A match, consortium or batch request that cannot be answered as asked."""


class InfeasibleConsortium(MatcherError):
    """The call's rules cannot all be met; the message names the rule and why."""

    def __init__(self, rule: str, reason: str):
        self.rule = rule
        self.reason = reason
        super().__init__(f"{rule}: {reason}")


class InfeasibleBatch(MatcherError):
    """A batch request that cannot be met as asked; the message says who and why."""


class JobNotFound(MatcherError):
    """No batch job with this id."""

    def __init__(self, job_id: str):
        super().__init__(f"no batch job '{job_id}'")


class JobExpired(JobNotFound):
    """A batch job whose result was removed after the retention period (answered like an unknown job)."""

    def __init__(self, job_id: str, days: float):
        self.job_id = job_id
        self.days = days
        super().__init__(job_id)

    def __str__(self) -> str:
        return f"batch job '{self.job_id}' has expired: results are kept for {self.days:g} days after they finish"


class StoreFull(MatcherError):
    """A write failed because the store's disk is full; reads go on from memory."""

    def __init__(self) -> None:
        super().__init__("the store's disk is full")
