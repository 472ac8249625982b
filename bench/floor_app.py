"""The floor: a bare FastAPI endpoint returning {}, served the same way (uvicorn, one process)."""

from fastapi import FastAPI

app = FastAPI()


@app.post("/")
async def empty() -> dict[str, str]:
    return {}
