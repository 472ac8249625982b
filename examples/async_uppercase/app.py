# The seed's service (docs: shared/seed/async-processing.md), with one change:
# `import modal` became `from modalkit import modal_compat as modal`.
from modalkit.iomodel import AsyncInputModel, AsyncOutputModel, InferenceOutputModel
from pydantic import BaseModel

class MyInput(BaseModel):
    text: str

class MyOutput(InferenceOutputModel):
    result: str

class MyAsyncInput(AsyncInputModel):
    data: MyInput

class MyAsyncOutput(AsyncOutputModel):
    result: MyOutput

from modalkit.inference import InferencePipeline
from typing import List
import asyncio

class MyAsyncInference(InferencePipeline):
    async def preprocess(self, input_list: List[MyAsyncInput]) -> dict:
        # Async preprocessing logic
        processed_data = [input_data.data.text for input_data in input_list]
        return {"processed": processed_data}

    async def predict(self, input_list: List[MyAsyncInput], preprocessed_data: dict) -> dict:
        # Simulate long-running task
        await asyncio.sleep(5)
        raw_output_data = [text.upper() for text in preprocessed_data["processed"]]
        return {"prediction": raw_output_data}

    async def postprocess(self, input_list: List[MyAsyncInput], raw_output: dict) -> List[MyAsyncOutput]:
        return [
            MyAsyncOutput(
                result=MyOutput(result=pred),
                status="completed"
            )
            for pred in raw_output["prediction"]
        ]

from modalkit import modal_compat as modal
from modalkit.modalapp import ModalService, create_web_endpoints
from modalkit.modalutils import ModalConfig
from modalkit.settings import Settings

Settings.model_config["yaml_file"] = "modalkit.yaml"
modal_utils = ModalConfig()

app = modal.App(name=modal_utils.app_name)

@app.cls(**modal_utils.get_app_cls_settings())
class MyAsyncApp(ModalService):
    inference_implementation = MyAsyncInference
    model_name: str = modal.parameter(default="my_model")
    modal_utils: ModalConfig = modal_utils

@app.function(**modal_utils.get_handler_settings())
@modal.asgi_app()
def web_endpoints():
    return create_web_endpoints(
        app_cls=MyAsyncApp,
        input_model=MyAsyncInput,
        output_model=MyAsyncOutput
    )
