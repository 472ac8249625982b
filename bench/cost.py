"""Cost per 1M jobs, GPU time aside: the synthesized template (Lambda memory and architecture, batch
size) with the price table in bench/prices.json and a per-job request model stated below.

Per job, by default: the client submits once, polls status twice and fetches the result once
(4 API calls, each one Lambda invocation of `LAMBDA_MS`); the queue sees one send, one delete and a
share of a receive per batch; DynamoDB sees the create and the idempotency key, the claim, the
completion (4 writes) and one read per API call plus the worker's one. A fraction of jobs
(`LARGE_FRACTION`) stores its result in S3 (one PUT, one GET). Writes bench/results/cost.json.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
JOBS = 1_000_000
API_CALLS_PER_JOB = int(os.environ.get("COST_API_CALLS", "4"))
LAMBDA_MS = float(os.environ.get("COST_LAMBDA_MS", "40"))
LARGE_FRACTION = float(os.environ.get("COST_LARGE_FRACTION", "0.05"))


def synthesized_template() -> tuple[dict, int]:  # type: ignore[type-arg]
    sys.path.insert(0, str(ROOT))
    from aws_cdk import App
    from aws_cdk.assertions import Template

    import app as cdk_app
    from modalkit.settings import load_settings

    app = App(outdir=tempfile.mkdtemp(prefix="modalkit-cost-"), context={"aws:cdk:bundling-stacks": []})
    stack = cdk_app.build(app, ROOT, nag=False)
    batch = load_settings().app_settings.batch_config.max_batch_size
    return Template.from_stack(stack).to_json(), batch


def main() -> None:
    prices = json.loads((ROOT / "bench" / "prices.json").read_text())
    template, batch_size = synthesized_template()
    api_fn = next(
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"].get("Handler") == "modalkit.lambda_handler.handler"
    )
    memory_gb = api_fn["MemorySize"] / 1024
    arch = api_fn.get("Architectures", ["x86_64"])[0]
    gb_second = prices["lambda_arm64_per_gb_second" if arch == "arm64" else "lambda_x86_per_gb_second"]

    calls = JOBS * API_CALLS_PER_JOB
    rows = {
        "API Gateway (REST)": calls / 1e6 * prices["apigateway_rest_per_million_requests"],
        "Lambda requests": calls / 1e6 * prices["lambda_per_million_requests"],
        f"Lambda compute ({api_fn['MemorySize']} MB {arch}, {LAMBDA_MS:g} ms)": calls
        * memory_gb
        * (LAMBDA_MS / 1000)
        * gb_second,
        "SQS": JOBS * (2 + 1 / batch_size) / 1e6 * prices["sqs_standard_per_million_requests"],
        "DynamoDB writes": JOBS * 4 / 1e6 * prices["dynamodb_on_demand_per_million_write_units"],
        "DynamoDB reads": JOBS
        * (API_CALLS_PER_JOB + 1)
        / 1e6
        * prices["dynamodb_on_demand_per_million_read_units"],
        "S3 requests": JOBS
        * LARGE_FRACTION
        * (prices["s3_per_thousand_put"] + prices["s3_per_thousand_get"])
        / 1000,
    }
    total = sum(rows.values())
    print(f"Cost per {JOBS:,} jobs ({prices['region']}, prices {prices['as_of']}; GPU time separate)")
    print(f"{'item':<44} {'USD':>10}")
    for item, usd in rows.items():
        print(f"{item:<44} {usd:>10.2f}")
    print(f"{'total':<44} {total:>10.2f}")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    result = {
        "jobs": JOBS,
        "rows_usd": {k: round(v, 4) for k, v in rows.items()},
        "total_usd": round(total, 2),
    }
    (out / "cost.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
