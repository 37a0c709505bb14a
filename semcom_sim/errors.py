"""Errors that the CLI reports as one line on stderr with exit code 2."""


class SemcomError(Exception):
    """Bad user input (names, ranges, files, checkpoints). The CLI prints it and exits 2."""


class UnknownNameError(SemcomError, KeyError):
    """A name that is not in a registry; the message lists the known names."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DataError(SemcomError):
    """A missing or malformed data file; the message names the file and the expected format."""


class CheckpointError(SemcomError):
    """A missing, corrupt or incompatible checkpoint."""
