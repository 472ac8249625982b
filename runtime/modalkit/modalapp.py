"""`ModalService` (what a service class subclasses) and `create_web_endpoints` (its HTTP API)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

from modalkit.inference import InferencePipeline
from modalkit.modalutils import ModalConfig

if TYPE_CHECKING:
    from fastapi import FastAPI


class ModalService:
    """A deployable service: which pipeline, for which model, under which config."""

    inference_implementation: ClassVar[type[InferencePipeline]]
    model_name: str = ""
    modal_utils: ModalConfig

    def load_pipeline(self, model_name: str | None = None) -> InferencePipeline:
        """Build the pipeline with modalkit's constructor arguments, from `model_settings`."""
        name = model_name or self.model_name
        models = self.modal_utils.model_settings
        entry: dict[str, Any] = dict(models.model_entries.get(name, {}))
        return self.inference_implementation(
            model_name=name,
            all_model_data_folder=str(models.local_model_repository_folder),
            common_settings=dict(models.common),
            **entry,
        )


def create_web_endpoints(
    app_cls: type[ModalService], input_model: type[BaseModel], output_model: type[BaseModel]
) -> FastAPI:
    """The FastAPI app for a service: the async job routes, modalkit's routes and /health."""
    from modalkit.api.app import create_app

    return create_app(app_cls, input_model, output_model)
