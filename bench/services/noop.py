"""A pipeline that does nothing: what is left is modalkit's own cost per job."""

from _bench import Response, build

from modalkit.inference import InferencePipeline


class Noop(InferencePipeline):
    def preprocess(self, input_list):
        return input_list

    def predict(self, input_list, data):
        return data

    def postprocess(self, input_list, raw):
        return [Response(n=i.data.n) for i in raw]


app, web_endpoints = build(Noop, "noop")
