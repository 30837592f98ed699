"""Errors a user can act on: the CLI prints their message on one line and exits non-zero."""


class BillingError(Exception):
    """Base class of every error whose message is meant for the user."""


class InputError(BillingError):
    """A raw file breaks the contract: the message names the file, the row and the rule."""

    def __init__(self, file: str, row: int | None, rule: str) -> None:
        self.file, self.row, self.rule = file, row, rule
        where = f"{file}, row {row}" if row is not None else file
        super().__init__(f"{where}: {rule}")


class CloseError(BillingError):
    """A period cannot be closed as asked."""
