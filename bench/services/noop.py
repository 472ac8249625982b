"""A pipeline that does nothing: what is left is modalkit's own cost per job."""

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


class Noop(InferencePipeline):
    def preprocess(self, input_list):
        return input_list

    def predict(self, input_list, data):
        return data

    def postprocess(self, input_list, raw):
        return [Response(n=i.data.n) for i in raw]


config = ModalConfig()
app = modal.App(name=config.app_name)


@app.cls(**config.get_app_cls_settings())
class Service(ModalService):
    inference_implementation = Noop
    model_name: str = modal.parameter(default="noop")
    modal_utils: ModalConfig = config


@app.function(**config.get_handler_settings())
@modal.asgi_app()
def web_endpoints():
    return create_web_endpoints(app_cls=Service, input_model=Request, output_model=Response)
