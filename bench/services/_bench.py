"""What the benchmark services share: an integer in, an integer out, and the seed's wiring."""

from typing import Any

from pydantic import BaseModel

from modalkit import modal_compat as modal
from modalkit.inference import InferencePipeline
from modalkit.iomodel import AsyncInputModel, AsyncOutputModel
from modalkit.modalapp import ModalService, create_web_endpoints
from modalkit.modalutils import ModalConfig


class Item(BaseModel):
    n: int


class Request(AsyncInputModel):
    data: Item


class Response(AsyncOutputModel):
    n: int


def build(pipeline: type[InferencePipeline], model_name: str) -> tuple[modal.App, Any]:
    config = ModalConfig()
    app = modal.App(name=config.app_name)

    @app.cls(**config.get_app_cls_settings())
    class Service(ModalService):
        inference_implementation = pipeline
        modal_utils: ModalConfig = config

    Service.model_name = model_name

    @app.function(**config.get_handler_settings())
    @modal.asgi_app()
    def web_endpoints() -> Any:
        return create_web_endpoints(app_cls=Service, input_model=Request, output_model=Response)

    return app, web_endpoints
