"""`InferencePipeline`: preprocess -> predict -> postprocess over a batch, sync or `async def`."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Sequence
from typing import Any, Protocol

from pydantic import BaseModel


class JobCancelled(Exception):
    """Raised between stages when every job of the batch has been cancelled."""


class PipelineContext(Protocol):
    """What the worker gives a running pipeline: cancel flags and a progress channel."""

    def cancelled(self) -> bool: ...

    def report(self, fraction: float | None, message: str | None) -> None: ...


class _Detached:
    def cancelled(self) -> bool:
        return False

    def report(self, fraction: float | None, message: str | None) -> None:
        return None


class InferencePipeline:
    """Subclass and implement `preprocess`, `predict` and `postprocess` (plain or `async def`).

    `run_inference` takes a batch of input models and returns one output per input, in order.
    """

    def __init__(
        self,
        model_name: str,
        all_model_data_folder: str,
        common_settings: dict[str, Any],
        *args: Any,
        **kwargs: Any,
    ) -> None:
        self.model_name = model_name
        self.all_model_data_folder = all_model_data_folder
        self.common_settings = common_settings
        self.model_settings = kwargs
        self._context: PipelineContext = _Detached()
        self._loop: asyncio.AbstractEventLoop | None = None

    def on_volume_reload(self) -> None:
        """Called after the model volume is reloaded; override to refresh cached files."""

    def preprocess(self, input_list: list[Any]) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement preprocess")

    def predict(self, input_list: list[Any], preprocessed_data: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement predict")

    def postprocess(self, input_list: list[Any], raw_output: Any) -> list[Any]:
        raise NotImplementedError(f"{type(self).__name__} must implement postprocess")

    # -- for pipeline authors ----------------------------------------------------------------
    def cancelled(self) -> bool:
        """True once every job of the running batch has been cancelled; stop early if you can."""
        return self._context.cancelled()

    def report_progress(self, fraction: float | None = None, message: str | None = None) -> None:
        """Show progress (0..1 and/or a short message) in `/async/status` for the running batch."""
        self._context.report(fraction, message)

    # -- for the runtime ---------------------------------------------------------------------
    def bind(self, context: PipelineContext) -> None:
        self._context = context

    def run_inference(self, input_list: Sequence[Any]) -> list[Any]:
        """Run the three stages on one batch from synchronous code, awaiting coroutine methods."""
        inputs = list(input_list)
        data = self._call(self.preprocess, inputs)
        self._checkpoint()
        raw = self._call(self.predict, inputs, data)
        self._checkpoint()
        outputs = self._call(self.postprocess, inputs, raw)
        return _checked(outputs, len(inputs))

    async def arun_inference(self, input_list: Sequence[Any]) -> list[Any]:
        """The same, from async code."""
        inputs = list(input_list)
        data = await _maybe_await(self.preprocess(inputs))
        self._checkpoint()
        raw = await _maybe_await(self.predict(inputs, data))
        self._checkpoint()
        outputs = await _maybe_await(self.postprocess(inputs, raw))
        return _checked(outputs, len(inputs))

    def _call(self, method: Any, *args: Any) -> Any:
        result = method(*args)
        if inspect.isawaitable(result):
            # One loop for the pipeline's life, so async clients made in a stage stay usable.
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
            return self._loop.run_until_complete(_maybe_await(result))
        return result

    def _checkpoint(self) -> None:
        if self._context.cancelled():
            raise JobCancelled("cancelled")


async def _maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


def _checked(outputs: Any, expected: int) -> list[Any]:
    if not isinstance(outputs, (list, tuple)):
        raise TypeError(f"postprocess must return a list of outputs, got {type(outputs).__name__}")
    if len(outputs) != expected:
        raise ValueError(f"postprocess returned {len(outputs)} outputs for {expected} inputs")
    return list(outputs)


def dump_output(output: Any) -> str:
    """One output as JSON text, the way the result endpoint returns it."""
    if isinstance(output, BaseModel):
        return output.model_dump_json()
    import json

    return json.dumps(output)
