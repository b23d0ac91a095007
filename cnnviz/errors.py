"""One family of errors a student can cause: str(err) is the student's sentence, err.hint says
what to do next. Pages show them through `cnnviz.ui.show_error`; the CLI prints them on one line
and exits 2."""

from __future__ import annotations


class CnnvizError(Exception):
    """Base class: the message is a sentence for the student, the hint says what to do."""

    hint: str = ""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""

    @property
    def message(self) -> str:
        return str(self)

    def one_line(self) -> str:
        """Message and hint on one line (the CLI's exit-2 line)."""
        text = str(self).rstrip(".")
        return f"{text}. {self.hint}" if self.hint else text


class InputTooSmall(CnnvizError, ValueError):
    """An input smaller than some layer's window: a larger input fixes it."""

    hint = "Use a larger input size."


class DoesNotFit(CnnvizError, ValueError):
    """An input that a layer cannot take for another reason than its size (channels, features)."""

    hint = "Change the input depth to what the model expects."


class OutOfBounds(CnnvizError, ValueError):
    """A number outside the app's limits (they keep one student from exhausting the server)."""

    hint = "Use a value within the limits shown next to the input."


class UnknownModel(CnnvizError, KeyError):
    """A name that is not in the registry."""

    hint = "Run `python -m cnnviz models` for the list."


class UnknownLayer(CnnvizError, ValueError):
    """A layer name that is not in the model."""

    hint = "Pick a layer from the model's layer table."


class UnknownTransform(CnnvizError, KeyError):
    """An augmentation step that is not in the explorer's catalog."""

    hint = "Pick a transform from the list (cnnviz.augment.catalog.CATALOG)."


class UnsupportedLayer(CnnvizError, ValueError):
    """An operation whose effect on the receptive field the tracer cannot follow."""

    hint = "Pick another layer or model."


class NotAnImage(CnnvizError, ValueError):
    """An upload that is not a readable image, or one too large to decode."""

    hint = "Upload a PNG or JPEG photo."


class NoPretrainedWeights(CnnvizError, ValueError):
    """A model torchvision publishes no weights for (the lecture's own builds)."""

    hint = "Pick a torchvision model, or use the untrained network."


class WeightsMissing(CnnvizError, FileNotFoundError):
    """torchvision publishes weights for this model, but the file is not on this machine."""

    hint = "The page carries on with the untrained network."


class JobNotFound(CnnvizError, KeyError):
    """A job id this session does not own: never started here, another session's, or freed."""

    hint = "Start the job again: finished jobs are freed after a while without a visit."


class JobStopped(CnnvizError, RuntimeError):
    """The result of a job that was stopped before it returned one."""

    hint = "Start the job again to get a result."


class TooManyJobs(CnnvizError, RuntimeError):
    """One session asking for more jobs at once than the server lets one session queue."""

    hint = "Wait for your running job to finish, or stop it."


class JobLost(CnnvizError, RuntimeError):
    """A job whose worker process ended without an answer (killed, out of memory, its machine
    gone): the job failed, the server goes on."""

    hint = "Start the job again; if it happens again, tell your teacher (the log says why)."


class JobQueueUnreachable(CnnvizError, ConnectionError):
    """The Ray cluster that holds the class's job queue cannot be reached."""

    hint = "Tell your teacher: the job queue (Ray) has to be running for jobs to start."


class JobResultTooLarge(CnnvizError, RuntimeError):
    """A job whose result is larger than a backend may send back to the server."""

    hint = (
        "Use fewer images or a smaller model, or ask your teacher to raise CNNVIZ_JOBS_RESULT_MB."
    )


class UnknownDevice(CnnvizError, ValueError):
    """A device name this server does not have."""

    hint = "Use the CPU, or the GPU the page names."


class BadDataset(CnnvizError, ValueError):
    """An uploaded dataset that cannot be used as a whole (not a zip, one class, unsafe paths)."""

    hint = "Upload a .zip with one folder per class, each holding at least 2 images."


class DatasetTooLarge(BadDataset):
    """A dataset over one of the teacher's limits (archive bytes, files, unpacked bytes)."""

    hint = "Upload fewer or smaller images, or ask the teacher to raise the limit."


class DatasetGone(CnnvizError, FileNotFoundError):
    """A run's dataset that left the server's store before the run read it (its browser left,
    or the store was emptied)."""

    hint = "Press Train again: the page stores the dataset anew."


class BadWeightsFile(CnnvizError, ValueError):
    """An uploaded weights file that is not a plain PyTorch state dict."""

    hint = "Upload a file saved with torch.save(model.state_dict(), path)."


class SessionDiskFull(CnnvizError, OSError):
    """A file that would take a session's folder on the server past the teacher's bound."""

    hint = (
        "Remove an uploaded file you no longer use, or wait for your run to finish; the teacher "
        "can raise the bound (CNNVIZ_SESSION_DISK_MB)."
    )


class BadPreset(CnnvizError, ValueError):
    """A query parameter of a shared link that the page cannot use (out of range, unknown)."""

    hint = "The page shows its default instead; change the widget to pick another value."
