"""A pipeline that takes 50 ms per batch, whatever its size: the GPU-bound shape batching helps."""

import time

from _bench import Response, build

from modalkit.inference import InferencePipeline


class Sleep50(InferencePipeline):
    def preprocess(self, input_list):
        return [i.data.n for i in input_list]

    def predict(self, input_list, data):
        time.sleep(0.05)
        return data

    def postprocess(self, input_list, raw):
        return [Response(n=n) for n in raw]


app, web_endpoints = build(Sleep50, "sleep50")
