"""A pipeline that takes 50 ms per batch, whatever its size: the GPU-bound shape batching helps."""

import time

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


class Sleep50(InferencePipeline):
    def preprocess(self, input_list):
        return [i.data.n for i in input_list]

    def predict(self, input_list, data):
        time.sleep(0.05)
        return data

    def postprocess(self, input_list, raw):
        return [Response(n=n) for n in raw]


config = ModalConfig()
app = modal.App(name=config.app_name)


@app.cls(**config.get_app_cls_settings())
class Service(ModalService):
    inference_implementation = Sleep50
    model_name: str = modal.parameter(default="sleep50")
    modal_utils: ModalConfig = config


@app.function(**config.get_handler_settings())
@modal.asgi_app()
def web_endpoints():
    return create_web_endpoints(app_cls=Service, input_model=Request, output_model=Response)
